"""Evaluation metrics on hand-made alerts and episodes, and run_cohort on a tiny stream."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from detectors.cohort import CohortMonitor
from detectors.evaluation import (
    ANY_CLINICAL,
    NEWS2_COMPARATOR,
    NEWS2_MATCHED,
    Alert,
    Hysteresis,
    evaluate,
    run_cohort,
)
from detectors.monitor import MonitorConfig, PatientMonitor
from ingest.episodes import Episode
from ingest.reading import make_reading

T = datetime(2025, 1, 6, tzinfo=UTC)
H = timedelta(hours=1)


def test_windows_lead_times_and_burden() -> None:
    episodes = [
        Episode(patient_id="s1", kind="sepsis", start=T),  # onset T+6h
        Episode(patient_id="s2", kind="sepsis", start=T),
        Episode(patient_id="s3", kind="sepsis", start=T),
        Episode(patient_id="d1", kind="desaturation", start=T, end=T + 2 * H),  # onset T
    ]
    alerts = [
        Alert("s1", "x", T + 1 * H),  # 5 h before onset
        Alert("s2", "x", T + 8 * H),  # after onset, during the default 24 h span
        Alert("s3", "x", T - 3 * H),  # before the look-back window: not counted
        Alert("d1", "x", T + 1 * H),  # 1 h after onset
        Alert("q1", "x", T),
        Alert("q1", "x", T + 30 * H),
        Alert("q2", "y", T),
    ]
    exposure = {p: (T, T + 48 * H) for p in ("s1", "s2", "s3", "d1", "q1", "q2")}
    ev = evaluate(alerts, episodes, exposure)
    x = next(r for r in ev.rows if r.label == "x")
    assert (x.episodes, x.by_onset, x.during) == (4, 0.25, 0.75)
    assert x.median_lead_hours == pytest.approx(-1.0)  # leads 5, -2, -1
    assert x.alerts == 2 and x.alerts_per_patient_day == pytest.approx(2 / 4.0)
    assert ev.event_patients == 4 and ev.non_event_patient_days == pytest.approx(4.0)
    assert "| x | 4 | 25.0% | 75.0% | -1.0 | 0.500 |" in ev.to_markdown()


def test_no_alerts_means_no_rows_and_no_division_by_zero() -> None:
    ev = evaluate([], [], {})
    assert ev.rows == [] and ev.non_event_patient_days == 0.0


def test_run_cohort_collects_news2_comparator_and_any_clinical() -> None:
    readings = []
    for i, (hr, temp) in enumerate([(75, 37.0), (135, 39.5), (136, 39.6), (137, 39.4), (74, 37.0)] * 2):
        t = T + i * H
        readings.append(make_reading(patient_id="p1", device_id="d", metric="heart_rate", value=hr, time=t))
        readings.append(
            make_reading(patient_id="p1", device_id="d", metric="temperature", value=temp, time=t)
        )
    run = run_cohort(CohortMonitor(PatientMonitor(MonitorConfig())), readings)
    comparator = [a for a in run.alerts if a.label == NEWS2_COMPARATOR]
    assert [a.time for a in comparator] == [T + 1 * H, T + 6 * H]
    assert [a for a in run.alerts if a.label == ANY_CLINICAL], "hard limit / NEWS2 alerts are clinical"
    assert run.readings == len(readings) and run.exposure["p1"] == (T, T + 9 * H)


def test_same_hysteresis_comparator_counts_episodes_like_the_policy() -> None:
    # NEWS2 >= 5 at hours 1, 3 and 8 (pulse 135 + temperature 39.5), normal otherwise
    high = {1, 3, 8}
    readings = []
    for i in range(10):
        hr, temp = (135, 39.5) if i in high else (75, 37.0)
        t = T + i * H
        readings.append(make_reading(patient_id="p1", device_id="d", metric="heart_rate", value=hr, time=t))
        readings.append(
            make_reading(patient_id="p1", device_id="d", metric="temperature", value=temp, time=t)
        )
    monitor = PatientMonitor(MonitorConfig())
    plain = run_cohort(CohortMonitor(monitor), readings, hysteresis=Hysteresis(1, None))
    assert [a.time for a in plain.alerts if a.label == NEWS2_MATCHED] == [
        a.time for a in plain.alerts if a.label == NEWS2_COMPARATOR
    ]
    sticky = run_cohort(CohortMonitor(monitor), readings, hysteresis=Hysteresis(4, 3 * H))
    # the gap from hour 1 to 3 is bridged (fewer than 4 normal readings, < 3 h); 3 to 8 is not
    assert [a.time for a in sticky.alerts if a.label == NEWS2_MATCHED] == [T + 1 * H, T + 8 * H]
    ev = evaluate(sticky.alerts, [], sticky.exposure)
    assert [r.label for r in ev.rows][:2] == [NEWS2_COMPARATOR, NEWS2_MATCHED]
