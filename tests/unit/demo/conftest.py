"""Small hand-made records for the demo/replay output tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from detectors.events import AlertEvent, AlertKind, AlertStatus, ScoredReading, Severity, alert_id_for
from ingest.reading import make_reading

T0 = datetime(2024, 3, 1, 8, tzinfo=UTC)


def scored(patient: str, metric: str, value: float, minutes: float, score: float = 0.1) -> ScoredReading:
    r = make_reading(
        patient_id=patient,
        device_id="dev-1",
        metric=metric,
        value=value,
        time=T0 + timedelta(minutes=minutes),
        received=T0,
    )
    return ScoredReading(r, score, expected_low=value - 5, expected_high=value + 5, warm=True)


def transition(
    patient: str,
    status: AlertStatus,
    minutes: float,
    *,
    start_minutes: float = 0,
    severity: Severity = Severity.MEDIUM,
    kind: AlertKind = AlertKind.HARD_LIMIT,
    metric: str | None = "spo2",
    actor: str | None = None,
) -> AlertEvent:
    start = T0 + timedelta(minutes=start_minutes)
    t = T0 + timedelta(minutes=minutes)
    return AlertEvent(
        alert_id=alert_id_for(patient, kind.value, metric, start),
        patient_id=patient,
        kind=kind,
        status=status,
        severity=severity,
        time=t,
        start=start,
        message=f"{kind.value} {status.value}",
        metric=metric,
        value=86.0,
        end=t if status is AlertStatus.RESOLVED else None,
        actor=actor,
    )


@pytest.fixture
def make_scored() -> Callable[..., ScoredReading]:
    return scored


@pytest.fixture
def make_transition() -> Callable[..., AlertEvent]:
    return transition
