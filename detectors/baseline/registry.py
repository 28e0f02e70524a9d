"""Which baseline each metric gets, with a standard-deviation floor in the metric's unit.

Heart rate and respiratory rate follow a daily rhythm, so they get a
:class:`TimeOfDayBaseline`; other vitals a :class:`RobustGaussianBaseline`.
Consciousness and supplemental oxygen are categorical and have no baseline.

>>> from ingest.metrics import Metric
>>> type(baseline_for(Metric.HEART_RATE)).__name__, baseline_for(Metric.SPO2).min_sd
('TimeOfDayBaseline', 1.0)
>>> baseline_for(Metric.CONSCIOUSNESS) is None
True
"""

from __future__ import annotations

from detectors.baseline.robust_gaussian import RobustGaussianBaseline
from detectors.baseline.time_of_day import TimeOfDayBaseline
from ingest.metrics import Metric

_MIN_SD: dict[Metric, float] = {
    Metric.HEART_RATE: 4.0,
    Metric.RESPIRATORY_RATE: 1.5,
    Metric.SPO2: 1.0,
    Metric.SYSTOLIC_BP: 6.0,
    Metric.DIASTOLIC_BP: 4.0,
    Metric.BODY_TEMPERATURE: 0.2,
    Metric.BLOOD_GLUCOSE: 0.6,
    Metric.BODY_WEIGHT: 0.5,
    Metric.STEPS: 300.0,
    Metric.SLEEP_DURATION: 0.5,
    Metric.HRV_RMSSD: 4.0,
    Metric.ACTIVITY_MINUTES: 5.0,
}
_CIRCADIAN = frozenset({Metric.HEART_RATE, Metric.RESPIRATORY_RATE})

BASELINE_METRICS: frozenset[Metric] = frozenset(_MIN_SD)
"""Metrics that have a learned baseline."""


def baseline_for(metric: Metric, fading_factor: float = 0.02) -> RobustGaussianBaseline | None:
    """A fresh baseline estimator for ``metric`` (None for categorical metrics)."""
    min_sd = _MIN_SD.get(metric)
    if min_sd is None:
        return None
    if metric in _CIRCADIAN:
        return TimeOfDayBaseline(fading_factor=fading_factor, min_sd=min_sd)
    return RobustGaussianBaseline(fading_factor=fading_factor, min_sd=min_sd)
