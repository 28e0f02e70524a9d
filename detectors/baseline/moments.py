"""Exponentially weighted mean and variance as three plain floats.

Same definition as River's ``stats.EWMean`` and ``stats.EWVar`` (the variance is
the EW mean of ``x**2`` minus the squared EW mean; the first value initialises
both), but the state is ``[n, mean, mean_of_squares]`` so it serialises exactly.

>>> m = EWMoments()
>>> for x in [1, 3, 5, 4, 6, 8, 7, 9, 11]:
...     m.update(x, 0.5)
>>> m.mean, round(m.var, 4), m.n
(9.4296875, 3.5654, 9)
"""

from __future__ import annotations

import math


class EWMoments:
    """EW mean and variance of a stream; ``update(x, alpha)`` with ``alpha`` the weight of the new value."""

    __slots__ = ("mean", "n", "sq")

    def __init__(self, n: int = 0, mean: float = 0.0, sq: float = 0.0) -> None:
        self.n = n
        self.mean = mean
        self.sq = sq

    def update(self, x: float, alpha: float) -> None:
        if self.n == 0:
            self.mean, self.sq = x, x * x
        else:
            self.mean += alpha * (x - self.mean)
            self.sq += alpha * (x * x - self.sq)
        self.n += 1

    @property
    def var(self) -> float:
        """Variance (never negative: rounding is clipped at 0)."""
        return max(self.sq - self.mean * self.mean, 0.0)

    @property
    def sd(self) -> float:
        return math.sqrt(self.var)

    def to_state(self) -> list[float]:
        return [self.n, self.mean, self.sq]

    @classmethod
    def from_state(cls, state: list[float]) -> EWMoments:
        return cls(int(state[0]), float(state[1]), float(state[2]))
