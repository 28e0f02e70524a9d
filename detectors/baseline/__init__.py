"""Per-patient, per-metric baselines learned online, River style.

Each estimator is a :class:`river.base.AnomalyDetector` (``learn_one``/``score_one``,
``clone``) whose whole state is a handful of floats, so it can be written to a
compact list (``to_state``) and rebuilt exactly (``from_state``) — River's own
Rust-backed ``stats.EWMean``/``EWVar`` cannot be reduced to their numbers, so the
same exponentially weighted moments are kept in pure Python (see
:mod:`detectors.baseline.moments`).

- :class:`RobustGaussianBaseline`: EW mean/variance with winsorised updates.
- :class:`TimeOfDayBaseline`: the same plus a learned offset per hour-of-day bucket.
- :func:`baseline_for`: which estimator (and variance floor) each metric gets.
"""

from detectors.baseline.moments import EWMoments
from detectors.baseline.registry import BASELINE_METRICS, baseline_for
from detectors.baseline.robust_gaussian import RobustGaussianBaseline
from detectors.baseline.scoring import tail_score
from detectors.baseline.time_of_day import TimeOfDayBaseline

__all__ = [
    "BASELINE_METRICS",
    "EWMoments",
    "RobustGaussianBaseline",
    "TimeOfDayBaseline",
    "baseline_for",
    "tail_score",
]
