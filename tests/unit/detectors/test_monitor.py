"""PatientMonitor end to end on short synthetic streams (event time throughout)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from detectors.cohort import CohortMonitor
from detectors.events import AlertKind, AlertStatus, Severity
from detectors.monitor import MonitorConfig, MonitorOutput, PatientMonitor, PatientState
from ingest.episodes import PatientProfile
from ingest.metrics import Metric
from ingest.reading import Reading, make_reading
from ingest.simulator.cohort import simulate_readings
from ingest.simulator.config import CohortConfig

T0 = datetime(2025, 1, 6, tzinfo=UTC)
PID = "p-test-1"


def reading(metric: Metric | str, value: float, minutes: float, rid: str | None = None) -> Reading:
    return make_reading(
        patient_id=PID,
        device_id="dev-1",
        metric=metric,
        value=value,
        time=T0 + timedelta(minutes=minutes),
        reading_id=rid,
    )


def well_stream(seed: int, hours: int, start_minutes: float = 0.0) -> list[Reading]:
    """A stable patient: HR every 5 min, SpO2/RR/temp/SBP every 30 min."""
    rng = random.Random(seed)
    out = []
    for step in range(hours * 12):
        m = start_minutes + 5 * step
        out.append(reading(Metric.HEART_RATE, round(rng.gauss(72, 3)), m))
        if step % 6 == 0:
            out.append(reading(Metric.SPO2, min(100, round(rng.gauss(96, 0.8))), m + 1))
            out.append(reading(Metric.RESPIRATORY_RATE, round(rng.gauss(15, 1)), m + 2))
            out.append(reading(Metric.BODY_TEMPERATURE, round(rng.gauss(36.8, 0.15), 1), m + 3))
            out.append(reading(Metric.SYSTOLIC_BP, round(rng.gauss(125, 5)), m + 4))
    return out


def run(monitor: PatientMonitor, state: PatientState, readings: list[Reading]) -> list[MonitorOutput]:
    return [monitor.process(state, r) for r in readings]


def events_of(outputs: list[MonitorOutput]) -> list[tuple[str, str, str | None]]:
    return [(e.kind.value, e.status.value, e.metric) for o in outputs for e in o.events]


@pytest.fixture
def monitor() -> PatientMonitor:
    return PatientMonitor(MonitorConfig(warmup_readings=20))


def new_state(monitor: PatientMonitor) -> PatientState:
    return monitor.new_state(PatientProfile(patient_id=PID))


def test_a_well_patient_raises_nothing(monitor: PatientMonitor) -> None:
    state = new_state(monitor)
    outputs = run(monitor, state, well_stream(1, 48))
    assert events_of(outputs) == []
    assert all(o.scored is not None and 0.0 <= o.scored.score <= 1.0 for o in outputs)


def test_desaturation_raises_then_resolves(monitor: PatientMonitor) -> None:
    state = new_state(monitor)
    run(monitor, state, well_stream(2, 24))
    start = 24 * 60
    desat = [reading(Metric.SPO2, v, start + 10 * i) for i, v in enumerate([86, 85, 84, 85])]
    recovered = [reading(Metric.SPO2, 96, start + 60 + 10 * i) for i in range(4)]
    during = events_of(run(monitor, state, desat))
    assert ("hard_limit", "raised", "spo2") in during
    assert ("anomaly", "raised", "spo2") in during
    after = events_of(run(monitor, state, recovered))
    assert ("hard_limit", "resolved", "spo2") in after
    assert ("anomaly", "resolved", "spo2") in after
    assert state.policy.open_alerts() == {}


def test_a_probe_off_zero_does_not_poison_the_baseline(monitor: PatientMonitor) -> None:
    state = new_state(monitor)
    run(monitor, state, well_stream(3, 12))
    hr = state.baselines[Metric.HEART_RATE]
    before = hr.to_state()
    out = monitor.process(state, reading(Metric.HEART_RATE, 0, 12 * 60 + 1))
    assert out.scored is not None and out.scored.score == pytest.approx(1.0)
    assert out.events == [] and state.policy.open_alerts() == {}
    assert hr.to_state() == before
    nxt = monitor.process(state, reading(Metric.HEART_RATE, 73, 12 * 60 + 2))
    assert nxt.scored is not None and nxt.scored.score < 0.9


def test_duplicates_are_ignored_and_change_nothing(monitor: PatientMonitor) -> None:
    state = new_state(monitor)
    stream = well_stream(4, 6)
    run(monitor, state, stream)
    snapshot = state.to_bytes()
    out = monitor.process(state, stream[-1])
    assert out == MonitorOutput(None, None, [])
    assert state.to_bytes() == snapshot


def test_state_round_trip_mid_stream_gives_identical_outputs(monitor: PatientMonitor) -> None:
    stream = well_stream(5, 30)
    stream += [reading(Metric.SPO2, 85 - i % 2, 30 * 60 + 10 * i) for i in range(5)]
    stream += well_stream(6, 6, start_minutes=31 * 60)
    half = len(stream) // 2 + 3
    a = new_state(monitor)
    uninterrupted = run(monitor, a, stream)
    b = new_state(monitor)
    run(monitor, b, stream[:half])
    restored = PatientState.from_bytes(b.to_bytes())
    resumed = run(monitor, restored, stream[half:])
    assert resumed == uninterrupted[half:]
    assert restored.to_bytes() == a.to_bytes()
    assert any(o.events for o in resumed), "the resumed part must contain decisions to compare"
    # redelivery after a restart: the last readings before the snapshot are still recognised
    assert monitor.process(PatientState.from_bytes(b.to_bytes()), stream[half - 1]).scored is None


def test_late_readings_are_scored_but_never_page(monitor: PatientMonitor) -> None:
    state = new_state(monitor)
    run(monitor, state, well_stream(7, 24))
    now = 24 * 60
    late = [reading(Metric.SPO2, 84, now - 300 + 10 * i) for i in range(4)]
    outputs = run(monitor, state, late)
    assert all(o.scored is not None for o in outputs)
    raised = [e for o in outputs for e in o.events if e.status is AlertStatus.RAISED]
    assert raised and all(e.late and e.severity <= Severity.LOW for e in raised)


def test_combined_mild_deterioration_raises_multivariate_only(monitor: PatientMonitor) -> None:
    state = new_state(monitor)
    run(monitor, state, well_stream(8, 36))
    t = 36 * 60
    worse = []
    for i in range(6):
        m = t + 30 * i
        worse += [
            reading(Metric.HEART_RATE, 82, m),
            reading(Metric.SPO2, 93, m + 1),
            reading(Metric.RESPIRATORY_RATE, 19, m + 2),
            reading(Metric.SYSTOLIC_BP, 110, m + 3),
            reading(Metric.BODY_TEMPERATURE, 37.3, m + 4),
        ]
    kinds = {k for k, status, _ in events_of(run(monitor, state, worse)) if status == "raised"}
    assert AlertKind.MULTIVARIATE.value in kinds
    assert AlertKind.HARD_LIMIT.value not in kinds


def test_sustained_sleep_drop_raises_behaviour(monitor: PatientMonitor) -> None:
    state = new_state(monitor)
    stream = [reading(Metric.SLEEP_DURATION, 7.5 if d < 14 else 3.5, d * 1440 + 420) for d in range(20)]
    found = events_of(run(monitor, state, stream))
    assert ("behaviour", "raised", "sleep_duration") in found


def test_state_stays_compact(monitor: PatientMonitor) -> None:
    state = new_state(monitor)
    run(monitor, state, well_stream(9, 72))
    run(monitor, state, [reading(Metric.SPO2, 84, 72 * 60 + i) for i in range(3)])  # open alerts too
    data = state.to_bytes()
    assert len(data) <= 16 * 1024
    per_metric = {m: len(str(b.to_state())) for m, b in state.baselines.items()}
    assert max(per_metric.values()) <= 2048


def test_state_stops_growing_once_its_windows_are_full() -> None:
    """Six weeks of a simulated cohort (every metric, episodes, artefacts): a state grows while its
    windows fill (the first week or two), then no more, so memory per patient has a steady state."""
    config = CohortConfig(patients=3, days=42, seed=5)
    cohort = CohortMonitor(PatientMonitor())
    peak_by_week: dict[int, int] = {}
    for i, r in enumerate(simulate_readings(config)):
        cohort.process(r)
        if i % 50 == 0:
            week = int(r.time.timestamp() - config.start_epoch) // (7 * 86400)
            largest = max(len(s.to_bytes()) for s in cohort.states.values())
            peak_by_week[week] = max(peak_by_week.get(week, 0), largest)
    assert sorted(peak_by_week) == [0, 1, 2, 3, 4, 5]
    filling = max(peak_by_week[w] for w in (1, 2))
    assert max(peak_by_week[w] for w in (3, 4, 5)) <= 1.1 * filling, peak_by_week
    assert filling <= 16 * 1024


def test_invalid_config_names_the_field() -> None:
    with pytest.raises(ValueError, match="borderline_z"):
        MonitorConfig(anomaly_z=2.0, borderline_z=3.0)


def test_tick_raises_a_data_gap_and_new_data_resolves_it(monitor: PatientMonitor) -> None:
    state = new_state(monitor)
    run(monitor, state, well_stream(10, 6))
    silent = T0 + timedelta(hours=8)
    gap = [e for e in monitor.tick(state, silent) if e.kind is AlertKind.DATA_GAP]
    assert gap and gap[0].status is AlertStatus.RAISED
    back = events_of(run(monitor, state, well_stream(11, 1, start_minutes=8 * 60 + 1)))
    assert ("data_gap", "resolved", "heart_rate") in back


def test_a_changed_profile_moves_news2_to_scale_2_and_is_checked_for_the_patient(
    monitor: PatientMonitor,
) -> None:
    state = monitor.new_state(PatientProfile(patient_id=PID))
    for r in well_stream(seed=4, hours=6):
        monitor.process(state, r)
    on_scale_1 = monitor.process(state, reading(Metric.SPO2, 89, 6 * 60 + 1)).news2
    monitor.apply_profile(state, PatientProfile(patient_id=PID, spo2_scale=2))
    on_scale_2 = monitor.process(state, reading(Metric.SPO2, 89, 6 * 60 + 2)).news2
    assert on_scale_1 is not None and on_scale_2 is not None
    assert (on_scale_1.subscores["spo2"], on_scale_2.subscores["spo2"]) == (
        3,
        0,
    )  # 89 %: <= 91 on scale 1, on target (88-92) on 2
    with pytest.raises(ValueError, match="patient_id"):
        monitor.apply_profile(state, PatientProfile(patient_id="someone-else", spo2_scale=2))
