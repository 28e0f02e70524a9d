"""``streams.bench``: matching alert records to the readings that triggered them, and the injected runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from detectors.monitor import PatientMonitor
from ingest.episodes import PatientProfile
from ingest.reading import Reading, make_reading
from streams.bench import cohort_readings, inject_hard_limit_runs, match_alert_latencies
from vigil.settings import Settings
from vigil.tuning import monitor_config

T0 = datetime(2025, 1, 6, 8, 0, tzinfo=UTC)


def _reading(patient: str, metric: str, value: float, minutes: float, device: str = "d1") -> Reading:
    return make_reading(
        patient_id=patient, device_id=device, metric=metric, value=value, time=T0 + timedelta(minutes=minutes)
    )


def _alert(
    alert_id: str, patient: str, minutes: float, metric: str | None, status: str = "raised"
) -> dict[str, Any]:
    t = (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")
    return {"alert_id": alert_id, "patient_id": patient, "time": t, "metric": metric, "status": status}


def test_alert_matches_the_reading_of_the_same_patient_and_event_time() -> None:
    a1 = _reading("p1", "heart_rate", 150, 0)
    a2 = _reading("p1", "heart_rate", 150, 5)
    b1 = _reading("p2", "heart_rate", 150, 5)  # same time, other patient
    arrived = {a1.reading_id: 1_000, a2.reading_id: 2_000, b1.reading_id: 2_500}
    alerts = [
        (_alert("al-a", "p1", 5, "heart_rate"), 2_120),
        (_alert("al-b", "p2", 5, "heart_rate"), 2_700),
        (_alert("al-a", "p1", 20, "heart_rate", "resolved"), 9_000),  # no reading at that time: a tick
    ]
    res = match_alert_latencies([a1, a2, b1], arrived, alerts)
    assert res.latencies_ms == [120, 200]
    assert (res.unmatched, res.ambiguous, res.duplicates) == (1, 0, 0)


def test_replayed_alert_records_count_once_and_unknown_arrivals_do_not_match() -> None:
    r = _reading("p1", "spo2", 85, 0)
    q = _reading("p1", "heart_rate", 150, 10)  # never seen on the readings topic
    a = _alert("al-1", "p1", 0, "spo2")
    res = match_alert_latencies(
        [r, q], {r.reading_id: 100}, [(a, 150), (a, 900), (_alert("al-2", "p1", 10, None), 950)]
    )
    assert res.latencies_ms == [50]
    assert (res.duplicates, res.unmatched) == (1, 1)


def test_metric_narrows_candidates_then_latest_arrival_before_the_alert() -> None:
    spo2 = _reading("p1", "spo2", 85, 0, device="ox")
    pulse = _reading("p1", "heart_rate", 72, 0, device="ox")
    sys_ = _reading("p1", "systolic_bp", 85, 0, device="cuff")
    arrived = {spo2.reading_id: 1_000, pulse.reading_id: 1_300, sys_.reading_id: 1_600}
    res = match_alert_latencies(
        [spo2, pulse, sys_],
        arrived,
        [
            (_alert("al-s", "p1", 0, "spo2"), 1_400),  # metric picks the SpO2 reading: unambiguous
            (_alert("al-n", "p1", 0, None), 1_400),  # aggregate NEWS2: latest arrival not after it (1,300)
        ],
    )
    assert res.latencies_ms == [400, 100]
    assert res.ambiguous == 1


def test_injected_runs_raise_and_resolve_hard_limit_alerts_deterministically() -> None:
    readings = cohort_readings(3_000, 20)
    first, n1 = inject_hard_limit_runs(readings)
    again, n2 = inject_hard_limit_runs(readings)
    assert first == again and n1 == n2 > 0
    assert sum(r.value == 150.0 for r in first) >= n1
    monitor = PatientMonitor(monitor_config(Settings()))
    states: dict[str, Any] = {}
    alerts: list[tuple[dict[str, Any], int]] = []
    for r in first:
        st = states.get(r.patient_id) or states.setdefault(
            r.patient_id, monitor.new_state(PatientProfile(patient_id=r.patient_id))
        )
        alerts += [(e.to_dict(), 0) for e in monitor.process(st, r).events]
    kinds = {(a["kind"], a["status"]) for a, _ in alerts}
    assert {("hard_limit", "raised"), ("hard_limit", "resolved")} <= kinds
    res = match_alert_latencies(first, {r.reading_id: 0 for r in first}, alerts)
    assert len(res.latencies_ms) >= n1 // 2  # every run raises at least one alert on a produced reading


def _burn_cpu(seconds: float) -> None:
    import time

    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_cpu_meter_counts_cpu_from_the_last_poll_without_output() -> None:
    import math
    import os

    from streams.bench import CpuMeter

    meter = CpuMeter(os.getpid())
    assert math.isnan(meter.us_per_output())
    meter.poll(0)
    _burn_cpu(0.3)  # start-up: not counted, a later poll still sees no output
    meter.poll(0)
    _burn_cpu(0.2)
    meter.poll(400)
    meter.poll(700)  # polls after the first output change nothing
    meter.done(1000)
    assert meter.first is not None and meter.first[0] == 0
    assert 150 <= meter.us_per_output() <= 300  # ~0.2 s over 1,000 outputs = ~200 µs each


def test_cpu_meter_starts_at_the_first_output_when_no_poll_saw_none() -> None:
    import os

    from streams.bench import CpuMeter

    meter = CpuMeter(os.getpid())
    meter.poll(100)
    _burn_cpu(0.2)
    meter.done(1100)
    assert 150 <= meter.us_per_output() <= 300
