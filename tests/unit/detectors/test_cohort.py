"""CohortMonitor: the same PatientMonitor over many patients, kept apart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from detectors.cohort import CohortMonitor
from detectors.events import AckAction, Acknowledgement, AlertEvent, AlertStatus
from detectors.monitor import MonitorConfig, PatientMonitor, PatientState
from ingest.episodes import PatientProfile
from ingest.reading import Reading, make_reading

T0 = datetime(2025, 1, 6, 8, tzinfo=UTC)


def spo2(patient: str, value: float, minutes: int) -> Reading:
    return make_reading(patient_id=patient, device_id="ox", metric="spo2", value=value,
                        time=T0 + timedelta(minutes=minutes))  # fmt: skip


def test_patients_are_independent_and_profiles_apply() -> None:
    cohort = CohortMonitor(
        PatientMonitor(MonitorConfig()), profiles=[PatientProfile(patient_id="copd", spo2_scale=2)]
    )
    events: dict[str, list[AlertEvent]] = {}
    for patient in ("copd", "plain"):
        for i, v in enumerate([87, 86, 86]):
            out = cohort.process(spo2(patient, v, 10 * i))
            events.setdefault(patient, []).extend(out.events)
    assert any(e.kind.value == "hard_limit" for e in events["plain"])
    assert not any(e.kind.value == "hard_limit" for e in events["copd"]), "86 % is within scale-2 limits"
    assert len(cohort) == 2 and cohort.state("copd").spo2_scale == 2


def test_acknowledge_and_tick_reach_the_patient() -> None:
    cohort = CohortMonitor(PatientMonitor(MonitorConfig()))
    raised = [e for i in range(3) for e in cohort.process(spo2("p1", 84, 10 * i)).events]
    alert = next(e for e in raised if e.kind.value == "hard_limit")
    ack = Acknowledgement(alert.alert_id, "p1", "clin-1", AckAction.ACKNOWLEDGE, T0 + timedelta(minutes=25))
    assert [e.status for e in cohort.acknowledge(ack)] == [AlertStatus.ACKNOWLEDGED]
    assert cohort.acknowledge(Acknowledgement("al-x", "nobody", "clin-1", AckAction.ACKNOWLEDGE, T0)) == []
    later = cohort.tick(T0 + timedelta(hours=4))
    assert any(e.status is AlertStatus.RESOLVED and e.alert_id == alert.alert_id for e in later)


def test_state_bytes_rebuild_the_patient() -> None:
    cohort = CohortMonitor(PatientMonitor(MonitorConfig()))
    for i in range(5):
        cohort.process(spo2("p2", 95 + i % 2, 10 * i))
    data = cohort.state_bytes("p2")
    assert PatientState.from_bytes(data).to_bytes() == data
