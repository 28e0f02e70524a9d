"""Missing data and sensor artefacts: wear gaps, delivery delays, duplicates, spikes and probe-off zeros.

All functions are vectorised over a device's event times (epoch seconds).

>>> import numpy as np
>>> inside_any(np.array([0, 5, 10, 15]), np.array([4, 9]), np.array([6, 12]))
array([False,  True,  True, False])
"""

from __future__ import annotations

import numpy as np

from ingest.simulator.config import Artefacts

DAY = 86400
HOUR = 3600


def inside_any(t: np.ndarray, begins: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """True where ``t`` falls inside any ``[begin, end)`` interval (intervals may overlap)."""
    if len(begins) == 0:
        return np.zeros(t.shape, dtype=bool)
    order = np.argsort(begins, kind="stable")
    b, e = begins[order], np.maximum.accumulate(ends[order])
    k = np.searchsorted(b, t, side="right") - 1
    return (k >= 0) & (t < e[np.maximum(k, 0)])


def watch_off_intervals(
    rng: np.random.Generator, days: np.ndarray, cfg: Artefacts
) -> tuple[np.ndarray, np.ndarray]:
    """Intervals the watch records nothing: daily charging, whole days not worn, flat batteries."""
    n = len(days)
    charge_at = days + rng.uniform(9, 20, n) * HOUR
    off_day = rng.random(n) < cfg.watch_off_day_prob
    flat = rng.random(n) < cfg.battery_flat_prob
    flat_at = days + rng.uniform(0, 24, n) * HOUR
    flat_for = rng.uniform(6, 18, n) * HOUR
    begins = np.concatenate([charge_at, days[off_day], flat_at[flat]])
    ends = np.concatenate(
        [charge_at + cfg.charging_hours * HOUR, days[off_day] + DAY, (flat_at + flat_for)[flat]]
    )
    return begins.astype(np.int64), ends.astype(np.int64)


def expected_watch_missing(cfg: Artefacts) -> float:
    """The expected fraction of scheduled watch readings lost to charging, off days and flat batteries.

    >>> cfg = Artefacts(charging_hours=2.4, watch_off_day_prob=0, battery_flat_prob=0)
    >>> round(expected_watch_missing(cfg), 3)
    0.1
    """
    worn = (
        (1 - cfg.charging_hours / 24) * (1 - cfg.watch_off_day_prob) * (1 - cfg.battery_flat_prob * 12 / 24)
    )
    return 1 - worn


def outages(rng: np.random.Generator, days: np.ndarray, prob: float) -> tuple[np.ndarray, np.ndarray]:
    """Connectivity gaps of 2–8 h (at most one a day, with ``prob``)."""
    hit = rng.random(len(days)) < prob
    begins = days + rng.uniform(0, 24, len(days)) * HOUR
    ends = begins + rng.uniform(2, 8, len(days)) * HOUR
    return begins[hit].astype(np.int64), ends[hit].astype(np.int64)


def arrival_times(
    rng: np.random.Generator, t: np.ndarray, gaps: tuple[np.ndarray, np.ndarray], cfg: Artefacts
) -> np.ndarray:
    """When each reading reaches Vigil: a few seconds after the event, after the gap it fell in, or late."""
    received = t + np.minimum(rng.lognormal(np.log(5.0), 0.8, t.shape), 300).astype(np.int64)
    begins, ends = gaps
    if len(begins):
        k = np.clip(np.searchsorted(begins, t, side="right") - 1, 0, None)
        held = (t >= begins[k]) & (t < ends[k])
        flush = ends[k] + rng.integers(0, 600, t.shape)
        received = np.where(held, np.maximum(received, flush), received)
    late = rng.random(t.shape) < cfg.late_prob
    return received + np.where(late, rng.integers(60, 1800, t.shape), 0)


def duplicate_index(rng: np.random.Generator, n: int, prob: float) -> np.ndarray:
    """Indices of readings the device re-sends (same reading_id, received again later)."""
    return np.flatnonzero(rng.random(n) < prob)


def motion_spikes(rng: np.random.Generator, hr: np.ndarray, awake: np.ndarray, prob: float) -> np.ndarray:
    """Watch heart rates with motion spikes (+40..+110 beats/min while awake)."""
    spike = awake & (rng.random(hr.shape) < prob)
    return np.where(spike, np.minimum(hr + rng.integers(40, 111, hr.shape), 240), hr)


def probe_off(rng: np.random.Generator, n: int, prob: float) -> np.ndarray:
    """Which oximeter checks read 0 (probe off the finger): flagged implausible downstream."""
    return rng.random(n) < prob
