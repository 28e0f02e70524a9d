"""Combined deterioration that no single vital shows: a closed-form score over per-patient residuals.

Each vital's latest residual is the signed z-score against the patient's own
baseline (:mod:`detectors.baseline`). Residuals are turned into "deterioration
evidence" (HR, RR up; SpO2, systolic BP down; temperature away from normal in
either direction, as a standardised half-normal), each clipped to
``[clip_low, clip_high]`` so that no single vital — and no single artefact —
can carry the score alone, and combined with Stouffer's method:
``Z = sum(d_i) / sqrt(k)`` over the ``k >= min_components`` fresh, warmed-up vitals.
The score is ``Phi(Z)`` in [0, 1].

Why closed form rather than a fitted model (HalfSpaceTrees, LODA): the model is
shared by all patients, has no state at all (memory does not grow with the
cohort) and is deterministic, so after a worker restarts from per-patient state
the next decisions equal those of an uninterrupted run; it is also ~1 µs per
call. Its assumption — independent standard-normal residuals when well — is
what the per-patient baselines are built to deliver.

>>> det = MultivariateDetector()
>>> z = {Metric.HEART_RATE: 1.8, Metric.RESPIRATORY_RATE: 1.9, Metric.SPO2: -1.7, Metric.SYSTOLIC_BP: -1.6}
>>> round(det.combined_z(z), 2)  # each vital only mildly off, together clearly abnormal
3.5
>>> round(det.combined_z({Metric.HEART_RATE: 6.0, Metric.SPO2: 0.2, Metric.SYSTOLIC_BP: 0.1}), 2)
1.56
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from statistics import NormalDist

from detectors.events import AlertKind, Severity
from detectors.policy import Level, Signal
from ingest.metrics import Metric

DIRECTION: dict[Metric, int] = {
    Metric.HEART_RATE: 1,
    Metric.RESPIRATORY_RATE: 1,
    Metric.SPO2: -1,
    Metric.SYSTOLIC_BP: -1,
    Metric.BODY_TEMPERATURE: 0,  # either way: fever or hypothermia
}
"""The vitals used, and which way is worse (0: both)."""

_HALF_NORMAL_MEAN = math.sqrt(2.0 / math.pi)
_HALF_NORMAL_SD = math.sqrt(1.0 - 2.0 / math.pi)
_NORMAL = NormalDist()


def _evidence(metric: Metric, z: float) -> float:
    sign = DIRECTION[metric]
    if sign == 0:
        return (abs(z) - _HALF_NORMAL_MEAN) / _HALF_NORMAL_SD
    return sign * z


class MultivariateDetector:
    """Stouffer-combined deterioration evidence over the latest per-vital residuals (stateless, shared).

    Parameters
    ----------
    min_components
        Fewest fresh vitals needed for a score.
    clip_low, clip_high
        Each vital's evidence is clipped to this range.
    abnormal_z, borderline_z
        Combined ``Z`` at or above which the signal is ABNORMAL / BORDERLINE.
    """

    __slots__ = ("abnormal_z", "borderline_z", "clip_high", "clip_low", "min_components")

    def __init__(
        self,
        min_components: int = 3,
        clip_low: float = -2.0,
        clip_high: float = 3.0,
        abnormal_z: float = 3.0,
        borderline_z: float = 2.0,
    ) -> None:
        if min_components < 2:
            raise ValueError("min_components: a multivariate score needs at least 2 vitals")
        self.min_components = min_components
        self.clip_low, self.clip_high = clip_low, clip_high
        self.abnormal_z, self.borderline_z = abnormal_z, borderline_z

    def combined_z(self, residuals: Mapping[Metric, float]) -> float | None:
        """Stouffer's ``Z`` of the clipped evidence, or None with too few vitals."""
        parts = [
            min(max(_evidence(m, z), self.clip_low), self.clip_high)
            for m, z in residuals.items()
            if m in DIRECTION
        ]
        if len(parts) < self.min_components:
            return None
        return sum(parts) / math.sqrt(len(parts))

    def signal(
        self, residuals: Mapping[Metric, float], time: datetime, *, late: bool = False
    ) -> Signal | None:
        """The multivariate signal for the current residuals (None with too few vitals)."""
        z = self.combined_z(residuals)
        if z is None:
            return None
        score = _NORMAL.cdf(z)
        if z >= self.abnormal_z:
            level = Level.ABNORMAL
        elif z >= self.borderline_z:
            level = Level.BORDERLINE
        else:
            level = Level.NORMAL
        message = ""
        if level is not Level.NORMAL:
            worst = sorted(residuals, key=lambda m: -_evidence(m, residuals[m]))[:3]
            message = (
                f"Combined deterioration across {len(residuals)} vitals (Z {z:.1f}; most off: "
                + ", ".join(f"{m.value} z {residuals[m]:+.1f}" for m in worst)
                + ")"
            )
        severity = Severity.HIGH if z >= self.abnormal_z + 1.5 else Severity.MEDIUM
        return Signal(AlertKind.MULTIVARIATE, None, time, level, severity, message, score=score, late=late)
