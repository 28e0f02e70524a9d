"""Clinical hard limits: thresholds on both sides, borderline margins, scales and flagged readings."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from detectors.events import AlertKind, Severity
from detectors.limits import HARD_LIMITS, check_limits, limit_for
from detectors.policy import Level
from ingest.metrics import Metric
from ingest.reading import Reading, make_reading

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
A, B, N = Level.ABNORMAL, Level.BORDERLINE, Level.NORMAL
H, M, Z = Severity.HIGH, Severity.MEDIUM, Severity.INFO


def _r(metric: str, value: float, quality: tuple[str, ...] = ()) -> Reading:
    return make_reading(patient_id="p1", device_id="d1", metric=metric, value=value, time=T0, quality=quality)


CASES = [
    # SpO2 scale 1: < 88 HIGH, 88-91 borderline
    ("spo2", 1, 87.9, A, H), ("spo2", 1, 88, B, Z), ("spo2", 1, 91, B, Z), ("spo2", 1, 91.5, N, Z),
    # SpO2 scale 2: < 84 HIGH, 84-87 borderline; the 88-92 target range is normal
    ("spo2", 2, 83, A, H), ("spo2", 2, 84, B, Z), ("spo2", 2, 87, B, Z), ("spo2", 2, 88, N, Z),
    ("spo2", 2, 90, N, Z),
    # heart rate: <= 40 / >= 131 HIGH
    ("heart_rate", 1, 40, A, H), ("heart_rate", 1, 41, B, Z), ("heart_rate", 1, 45, B, Z),
    ("heart_rate", 1, 46, N, Z),
    ("heart_rate", 1, 120, N, Z), ("heart_rate", 1, 121, B, Z), ("heart_rate", 1, 130, B, Z),
    ("heart_rate", 1, 131, A, H),
    # systolic BP: <= 90 / >= 220 HIGH
    ("systolic_bp", 1, 90, A, H), ("systolic_bp", 1, 91, B, Z), ("systolic_bp", 1, 101, N, Z),
    ("systolic_bp", 1, 199, N, Z), ("systolic_bp", 1, 200, B, Z), ("systolic_bp", 1, 220, A, H),
    # respiratory rate: <= 8 / >= 25 HIGH
    ("respiratory_rate", 1, 8, A, H), ("respiratory_rate", 1, 9, B, Z), ("respiratory_rate", 1, 11, N, Z),
    ("respiratory_rate", 1, 22, N, Z), ("respiratory_rate", 1, 23, B, Z), ("respiratory_rate", 1, 25, A, H),
    # temperature: <= 35.0 HIGH, >= 39.1 MEDIUM
    ("body_temperature", 1, 35.0, A, H), ("body_temperature", 1, 35.1, B, Z),
    ("body_temperature", 1, 35.6, N, Z),
    ("body_temperature", 1, 38.5, N, Z), ("body_temperature", 1, 38.6, B, Z),
    ("body_temperature", 1, 39.0, B, Z),
    ("body_temperature", 1, 39.1, A, M),
    # glucose: < 3.0 HIGH (hypo), > 20 MEDIUM (hyper)
    ("blood_glucose", 1, 2.9, A, H), ("blood_glucose", 1, 3.0, B, Z), ("blood_glucose", 1, 3.9, B, Z),
    ("blood_glucose", 1, 4.0, N, Z), ("blood_glucose", 1, 14.9, N, Z), ("blood_glucose", 1, 15.0, B, Z),
    ("blood_glucose", 1, 20.0, B, Z), ("blood_glucose", 1, 20.1, A, M),
]  # fmt: skip


@pytest.mark.parametrize(("metric", "scale", "value", "level", "severity"), CASES)
def test_limit_levels(metric: str, scale: int, value: float, level: Level, severity: Severity) -> None:
    sig = check_limits(_r(metric, value), spo2_scale=scale)
    assert sig is not None
    assert (sig.kind, sig.metric, sig.level, sig.severity) == (AlertKind.HARD_LIMIT, metric, level, severity)
    assert sig.value == value and sig.time == T0 and not sig.late


def test_message_explains_and_carries_the_limits() -> None:
    sig = check_limits(_r("heart_rate", 38))
    assert sig is not None
    assert sig.message == "Heart rate 38 /min is at or below the hard limit of 40 /min"
    assert (sig.expected_low, sig.expected_high) == (40, 131)
    hypo = check_limits(_r("glucose", 2.5))
    assert hypo is not None and hypo.message == "Glucose 2.5 mmol/L is below the hard limit of 3 mmol/L"
    spo2 = check_limits(_r("spo2", 82), spo2_scale=2)
    assert spo2 is not None and spo2.message.endswith("(NEWS2 scale 2)") and spo2.expected_high is None


@pytest.mark.parametrize("flag", ["motion_artefact", "probe_off", "off_body", "low_perfusion"])
def test_flagged_readings_never_signal(flag: str) -> None:
    assert check_limits(_r("spo2", 70, (flag,))) is None


def test_implausible_value_is_flagged_so_no_signal() -> None:
    assert check_limits(_r("heart_rate", 0)) is None  # HR 0 is implausible (probe off), not bradycardia


def test_late_flag_or_argument_marks_the_signal_late() -> None:
    flagged = check_limits(_r("spo2", 80, ("late",)))
    assert flagged is not None and flagged.late and flagged.level is Level.ABNORMAL
    marked = check_limits(_r("spo2", 80), late=True)
    assert marked is not None and marked.late


def test_metrics_without_limits_and_bad_scale() -> None:
    assert check_limits(_r("steps", 100)) is None
    assert limit_for(Metric.DIASTOLIC_BP) is None
    assert set(HARD_LIMITS) >= {Metric.HEART_RATE, Metric.SYSTOLIC_BP, Metric.BLOOD_GLUCOSE}
    with pytest.raises(ValueError, match=r"^spo2_scale: "):
        check_limits(_r("spo2", 95), spo2_scale=3)
