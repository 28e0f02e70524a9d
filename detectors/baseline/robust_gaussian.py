"""A robust per-patient Gaussian baseline: EW mean/variance with winsorised updates."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from river.base import AnomalyDetector

from detectors.baseline.moments import EWMoments
from detectors.baseline.scoring import tail_score


class RobustGaussianBaseline(AnomalyDetector):
    """The patient's own normal range for one metric, learned online.

    Learns an exponentially weighted mean and variance of ``x["value"]``. Until
    ``1 / fading_factor`` values have been seen the weights are those of a plain
    running mean (so the warm-up converges fast), then older values fade. Once a
    few values are known each update is winsorised to ``mean ± clip_z·sd``, so one
    artefact cannot drag the baseline (quality-flagged readings must not be
    learned at all; that is the caller's job).

    The score is the two-sided normal tail transform of ``z = (value - mean) / sd``
    (see :func:`detectors.baseline.scoring.tail_score`), with ``sd`` never below
    ``min_sd`` so a very steady patient is not alarmed by a tiny wobble.

    Parameters
    ----------
    fading_factor
        Weight of a new value once warmed up (0.02 ≈ the last 50 readings).
    clip_z
        Updates are clipped to this many standard deviations from the mean.
    band_k
        The expected range is ``mean ± band_k·sd``.
    min_sd
        Floor for the standard deviation, in the metric's unit.

    Examples
    --------
    >>> import random
    >>> rng = random.Random(7)
    >>> b = RobustGaussianBaseline(min_sd=2.0)
    >>> for _ in range(200):
    ...     b.learn_one({"value": rng.gauss(70, 4)})
    >>> lo, hi = b.expected_range({})
    >>> round(lo), round(hi)
    (59, 81)
    >>> b.score_one({"value": 71.0}) < 0.5 < 0.99 < b.score_one({"value": 110.0})
    True
    >>> b.learn_one({"value": 0.0})  # an artefact is winsorised: it barely moves the band
    >>> round(b.expected_range({})[0])
    58
    """

    def __init__(
        self, fading_factor: float = 0.02, clip_z: float = 3.0, band_k: float = 2.5, min_sd: float = 1.0
    ) -> None:
        if not 0.0 < fading_factor <= 1.0:
            raise ValueError(f"fading_factor: must be in (0, 1], got {fading_factor}")
        if clip_z <= 0 or band_k <= 0 or min_sd <= 0:
            raise ValueError("clip_z, band_k and min_sd: must be positive")
        self.fading_factor = fading_factor
        self.clip_z = clip_z
        self.band_k = band_k
        self.min_sd = min_sd
        self._m = EWMoments()

    _CLIP_AFTER = 5

    @property
    def n_seen(self) -> int:
        """How many values it has learned."""
        return self._m.n

    @property
    def sd(self) -> float:
        """The learned standard deviation, floored at ``min_sd``."""
        m = self._m
        var = m.sq - m.mean * m.mean
        return max(math.sqrt(var) if var > 0.0 else 0.0, self.min_sd)

    def center(self, x: Mapping[Any, Any]) -> float:
        """The expected value (here the EW mean; subclasses add context)."""
        return self.center_at(x.get("hour"))

    def center_at(self, hour: int | None) -> float:
        """The expected value at an hour of the day (here the EW mean; subclasses add the hour)."""
        return self._m.mean

    def _alpha(self) -> float:
        return max(self.fading_factor, 1.0 / (self._m.n + 1))

    def _winsorise(self, value: float, center: float) -> float:
        if self._m.n < self._CLIP_AFTER:
            return value
        reach = self.clip_z * self.sd
        return min(max(value, center - reach), center + reach)

    def learn_one(self, x: Mapping[Any, Any]) -> None:
        self.learn_value(float(x["value"]), x.get("hour"))

    def learn_value(self, value: float, hour: int | None = None) -> None:
        """:meth:`learn_one` without the dict: the stream's hot path."""
        self._m.update(self._winsorise(value, self._m.mean), self._alpha())

    def residual(self, x: Mapping[Any, Any]) -> float:
        """Signed z-score of ``x["value"]`` against the baseline (0 before anything was learned)."""
        if self._m.n == 0:
            return 0.0
        return (float(x["value"]) - self.center(x)) / self.sd

    def score_one(self, x: Mapping[Any, Any]) -> float:
        return tail_score(self.residual(x))

    def expected_range(self, x: Mapping[Any, Any]) -> tuple[float, float] | None:
        """``center ± band_k·sd`` for the context in ``x`` (None before anything was learned)."""
        if self._m.n == 0:
            return None
        c, half = self.center(x), self.band_k * self.sd
        return c - half, c + half

    def assess(self, x: Mapping[Any, Any]) -> tuple[float, float, float] | None:
        """``(z, expected_low, expected_high)`` in one pass (None before anything was learned)."""
        return self.assess_value(float(x["value"]), x.get("hour"))

    def assess_value(self, value: float, hour: int | None = None) -> tuple[float, float, float] | None:
        """:meth:`assess` without the dict: the stream's hot path."""
        if self._m.n == 0:
            return None
        c, sd = self.center_at(hour), self.sd
        half = self.band_k * sd
        return (value - c) / sd, c - half, c + half

    def to_state(self) -> list[float]:
        """The learned numbers (not the parameters) as a short list."""
        return self._m.to_state()

    def load_state(self, state: list[float]) -> None:
        """Restore what :meth:`to_state` returned (exactly)."""
        self._m = EWMoments.from_state(state)

    @classmethod
    def _unit_test_params(cls) -> Any:
        yield {"min_sd": 2.0}
