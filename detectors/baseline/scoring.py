"""Turning a standardised residual into an anomaly score in [0, 1].

The score is the two-sided normal tail transform of a (robust) z-score:
``score = erf(|z| / sqrt(2)) = 1 - P(|Z| >= |z|)`` for a standard normal ``Z``.
0 means "exactly the expected value", 0.95 is ``|z| = 1.96`` and 0.997 is ``|z| = 3``.

>>> round(tail_score(0.0), 3), round(tail_score(1.96), 3), round(tail_score(-3.0), 4)
(0.0, 0.95, 0.9973)
"""

from __future__ import annotations

import math

_SQRT2 = math.sqrt(2.0)


def tail_score(z: float) -> float:
    """Two-sided normal tail score of ``z``: ``erf(|z| / sqrt 2)`` in [0, 1]."""
    return math.erf(abs(z) / _SQRT2)


def z_for_score(score: float) -> float:
    """Inverse of :func:`tail_score` for ``score`` in [0, 1): the ``|z|`` that gives it.

    >>> round(z_for_score(tail_score(2.5)), 6)
    2.5
    """
    from statistics import NormalDist

    return NormalDist().inv_cdf(0.5 + score / 2.0)
