"""A baseline with a learned offset per hour-of-day bucket (circadian rhythm)."""

from __future__ import annotations

from typing import Any

from detectors.baseline.moments import EWMoments
from detectors.baseline.robust_gaussian import RobustGaussianBaseline


class TimeOfDayBaseline(RobustGaussianBaseline):
    """A :class:`RobustGaussianBaseline` plus an offset for each ``24 / buckets``-hour slot of the day.

    Heart rate and respiratory rate are lower at night: the overall EW mean and
    variance are learned on the de-seasonalised value ``value - offset[bucket]``,
    and each bucket learns the EW mean of its residual. An offset is shrunk
    towards 0 until its bucket has seen ``shrink`` values, so a sparsely sampled
    slot falls back to the overall baseline. ``x`` needs ``"hour"`` (0..23, the
    event time's hour in the patient's local time or UTC); without it the
    offset is 0.

    Parameters
    ----------
    fading_factor
        Weight of a new value once warmed up.
    clip_z
        Updates are clipped to this many standard deviations.
    band_k
        The expected range is ``center ± band_k·sd``.
    min_sd
        Floor for the standard deviation.
    buckets
        Number of equal slots in a day (4 = 6-hour slots).
    shrink
        Pseudo-count shrinking a bucket's offset towards 0.

    Examples
    --------
    >>> import random
    >>> rng = random.Random(3)
    >>> b = TimeOfDayBaseline(min_sd=2.0)
    >>> for day in range(10):
    ...     for hour in range(24):
    ...         b.learn_one({"value": (58 if hour < 6 else 74) + rng.gauss(0, 2), "hour": hour})
    >>> round(b.center({"hour": 3})), round(b.center({"hour": 14}))
    (59, 74)
    >>> b.score_one({"value": 74.0, "hour": 3}) > 0.99 > b.score_one({"value": 74.0, "hour": 14})
    True
    """

    def __init__(
        self,
        fading_factor: float = 0.02,
        clip_z: float = 3.0,
        band_k: float = 2.5,
        min_sd: float = 1.0,
        buckets: int = 4,
        shrink: float = 5.0,
    ) -> None:
        super().__init__(fading_factor=fading_factor, clip_z=clip_z, band_k=band_k, min_sd=min_sd)
        if not 1 <= buckets <= 24 or 24 % buckets:
            raise ValueError(f"buckets: must divide 24, got {buckets}")
        self.buckets = buckets
        self.shrink = shrink
        self._offsets = [EWMoments() for _ in range(buckets)]

    def _bucket(self, hour: int | None) -> int | None:
        return None if hour is None else int(hour) * self.buckets // 24

    def _offset(self, b: int | None) -> float:
        if b is None:
            return 0.0
        o = self._offsets[b]
        return o.mean * o.n / (o.n + self.shrink)

    def center_at(self, hour: int | None) -> float:
        return self._m.mean + self._offset(self._bucket(hour))

    def learn_value(self, value: float, hour: int | None = None) -> None:
        b = self._bucket(hour)
        offset = self._offset(b)
        value = self._winsorise(value, self._m.mean + offset)
        deseasonalised = value - offset
        alpha = self._alpha()
        self._m.update(deseasonalised, alpha)
        if b is not None:
            o = self._offsets[b]
            o.update(value - self._m.mean, max(alpha, 1.0 / (o.n + 1)))

    def to_state(self) -> list[float]:
        state = self._m.to_state()
        for o in self._offsets:
            state += (o.n, o.mean)
        return state

    def load_state(self, state: list[float]) -> None:
        self._m = EWMoments.from_state(state[:3])
        self._offsets = [
            EWMoments(int(state[3 + 2 * i]), float(state[4 + 2 * i])) for i in range(self.buckets)
        ]

    @classmethod
    def _unit_test_params(cls) -> Any:
        yield {"min_sd": 2.0, "buckets": 6}
