"""Clinical hard limits: fixed thresholds that alert even while the learned baselines warm up.

Each :class:`HardLimit` has an alert threshold on each side and a *borderline* margin
inside it. A value past a threshold is ABNORMAL at the limit's severity; a value in the
margin is BORDERLINE (it keeps an open alert open — hysteresis — but never raises one);
anything else is NORMAL. The thresholds (see ``docs/clinical-rules.md`` for references):

=====================  ======================  ==========================  ==============
metric                 low (severity)          high (severity)             borderline
=====================  ======================  ==========================  ==============
SpO2, NEWS2 scale 1    < 88 % (HIGH)           —                           88–91 %
SpO2, NEWS2 scale 2    < 84 % (HIGH)           —                           84–87 %
heart rate             <= 40 /min (HIGH)       >= 131 /min (HIGH)          41–45, 121–130
systolic BP            <= 90 mmHg (HIGH)       >= 220 mmHg (HIGH)          91–100, 200–219
respiratory rate       <= 8 /min (HIGH)        >= 25 /min (HIGH)           9–10, 23–24
body temperature       <= 35.0 °C (HIGH)       >= 39.1 °C (MEDIUM)         35.1–35.5, 38.6–39.0
blood glucose          < 3.0 mmol/L (HIGH)     > 20.0 mmol/L (MEDIUM)      3.0–3.9, 15.0–20.0
=====================  ======================  ==========================  ==============

Readings with a quality flag (other than ``late``) never trigger a clinical alert.

>>> from datetime import UTC, datetime
>>> from ingest.reading import make_reading
>>> t = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
>>> r = make_reading(patient_id="p1", device_id="ox1", metric="spo2", value=86, time=t)
>>> sig = check_limits(r, spo2_scale=1)
>>> sig.level.value, sig.severity.label, sig.message
('abnormal', 'high', 'SpO2 86 % is below the hard limit of 88 % (NEWS2 scale 1)')
>>> check_limits(r, spo2_scale=2).level.value
'borderline'
"""

from __future__ import annotations

from dataclasses import dataclass

from detectors.events import AlertKind, Severity
from detectors.news2 import clinically_usable
from detectors.policy import Level, Signal
from ingest.metrics import CATALOGUE, Metric
from ingest.reading import Quality, Reading


@dataclass(frozen=True, slots=True)
class Bound:
    """One side of a hard limit: alert past ``at`` (``inclusive``: at it too), borderline up to ``margin``."""

    at: float
    inclusive: bool
    margin: float
    severity: Severity

    def past(self, value: float, low_side: bool) -> bool:
        if low_side:
            return value <= self.at if self.inclusive else value < self.at
        return value >= self.at if self.inclusive else value > self.at

    def near(self, value: float, low_side: bool) -> bool:
        return value <= self.margin if low_side else value >= self.margin


@dataclass(frozen=True, slots=True)
class HardLimit:
    """The hard limits of one metric (``None``: no limit on that side)."""

    metric: Metric
    low: Bound | None
    high: Bound | None
    label: str = ""

    def evaluate(self, value: float) -> tuple[Level, Severity, str]:
        """Level, severity and the reason in words for one value.

        >>> level, severity, why = HARD_LIMITS[Metric.HEART_RATE].evaluate(131.0)
        >>> level.value, severity.label, why
        ('abnormal', 'high', 'Heart rate 131 /min is at or above the hard limit of 131 /min')
        """
        display, unit = _NAMES[self.metric]
        name = f"{display} {value:g} {unit}"
        breach = self._breach(value)
        if breach is not None:
            side, bound = breach
            rel = f"at or {side}" if bound.inclusive else side
            why = f"{name} is {rel} the hard limit of {bound.at:g} {unit}{self.label}"
            return Level.ABNORMAL, bound.severity, why
        near = self._near(value)
        if near is not None:
            return Level.BORDERLINE, Severity.INFO, f"{name} is borderline {near}{self.label}"
        return Level.NORMAL, Severity.INFO, f"{name} is within the hard limits{self.label}"

    def level(self, value: float) -> Level:
        """The level :meth:`evaluate` gives, without wording the reason (cheap: the hot path).

        >>> HARD_LIMITS[Metric.HEART_RATE].level(125.0).value
        'borderline'
        """
        if self._breach(value) is not None:
            return Level.ABNORMAL
        return Level.NORMAL if self._near(value) is None else Level.BORDERLINE

    def _breach(self, value: float) -> tuple[str, Bound] | None:
        """``("below"|"above", bound)`` of the threshold ``value`` is past (low side first), or None."""
        low, high = self.low, self.high
        if low is not None and low.past(value, True):
            return "below", low
        if high is not None and high.past(value, False):
            return "above", high
        return None

    def _near(self, value: float) -> str | None:
        """``"low"``/``"high"``: the borderline margin ``value`` is in (low side first), or None."""
        if self.low is not None and self.low.near(value, True):
            return "low"
        if self.high is not None and self.high.near(value, False):
            return "high"
        return None


_NAMES: dict[Metric, tuple[str, str]] = {
    m: (
        "SpO2" if m is Metric.SPO2 else "Glucose" if m is Metric.BLOOD_GLUCOSE else spec.display,
        {"Cel": "°C", "mm[Hg]": "mmHg"}.get(spec.unit, spec.unit),
    )
    for m, spec in CATALOGUE.items()
}
"""Display name and printable unit per metric, for messages."""

_H, _M = Severity.HIGH, Severity.MEDIUM

HARD_LIMITS: dict[Metric, HardLimit] = {
    Metric.HEART_RATE: HardLimit(Metric.HEART_RATE, Bound(40, True, 45, _H), Bound(131, True, 121, _H)),
    Metric.SYSTOLIC_BP: HardLimit(Metric.SYSTOLIC_BP, Bound(90, True, 100, _H), Bound(220, True, 200, _H)),
    Metric.RESPIRATORY_RATE: HardLimit(
        Metric.RESPIRATORY_RATE, Bound(8, True, 10, _H), Bound(25, True, 23, _H)
    ),
    Metric.BODY_TEMPERATURE: HardLimit(
        Metric.BODY_TEMPERATURE, Bound(35.0, True, 35.5, _H), Bound(39.1, True, 38.6, _M)
    ),
    Metric.BLOOD_GLUCOSE: HardLimit(
        Metric.BLOOD_GLUCOSE, Bound(3.0, False, 3.9, _H), Bound(20.0, False, 15.0, _M)
    ),
}
"""Hard limits of the metrics that have them (SpO2 depends on the NEWS2 scale: see :data:`SPO2_LIMITS`)."""

SPO2_LIMITS: dict[int, HardLimit] = {
    1: HardLimit(Metric.SPO2, Bound(88, False, 91, _H), None, " (NEWS2 scale 1)"),
    2: HardLimit(Metric.SPO2, Bound(84, False, 87, _H), None, " (NEWS2 scale 2)"),
}
"""SpO2 hard limits per NEWS2 SpO2 scale (scale 2: target 88–92 % in hypercapnic respiratory failure)."""


def limit_for(metric: Metric, spo2_scale: int = 1) -> HardLimit | None:
    """The hard limit that applies to a metric for a patient on the given SpO2 scale."""
    if metric is Metric.SPO2:
        if spo2_scale not in SPO2_LIMITS:
            raise ValueError(f"spo2_scale: must be 1 or 2, got {spo2_scale!r}")
        return SPO2_LIMITS[spo2_scale]
    return HARD_LIMITS.get(metric)


def check_limits(reading: Reading, spo2_scale: int = 1, *, late: bool = False) -> Signal | None:
    """The hard-limit signal for one reading (None: no limit for the metric, or a flagged reading).

    Every reading of a limited metric gives a signal — NORMAL ones let the policy resolve
    with hysteresis. ``late`` (or a ``late`` quality flag) marks the signal as late data.
    """
    limit = limit_for(reading.metric, spo2_scale)
    if limit is None or not clinically_usable(reading):
        return None
    level, severity, message = limit.evaluate(reading.value)
    low = limit.low.at if limit.low is not None else None
    high = limit.high.at if limit.high is not None else None
    return Signal(
        kind=AlertKind.HARD_LIMIT,
        metric=reading.metric.value,
        time=reading.time,
        level=level,
        severity=severity,
        message=message,
        value=reading.value,
        expected_low=low,
        expected_high=high,
        late=late or Quality.LATE in reading.quality,
    )
