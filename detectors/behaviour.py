"""Multi-day behaviour change (mental-health service): sleep, activity and HRV vs the patient's own norm.

Readings of the daily metrics are aggregated per UTC day (sums for sleep, steps
and activity minutes; the mean for HRV). When a day closes (the first reading of
a later day, or :meth:`BehaviourDetector.tick` after the day plus ``close_grace``),
its value updates two exponentially weighted means: a *recent* one (a few days)
and a slow *usual* one (weeks, with its spread). A day is "low" when the recent
mean is below ``usual - k·sd`` and at least ``min_drop`` (relative) below usual;
``persist_days`` low days in a row give an ABNORMAL ``behaviour`` signal, a day
that is no longer low a NORMAL one. Nothing is signalled before ``warmup_days``
closed days. Readings for an already-closed day (very late uploads) are not
added (the day has been judged); that is a documented limit.

>>> from datetime import UTC, datetime, timedelta
>>> det, state = BehaviourDetector(), BehaviourState()
>>> t0 = datetime(2025, 1, 6, 7, tzinfo=UTC)
>>> signals = []
>>> for day in range(30):
...     hours = 7.5 if day < 20 else 4.0  # sleep collapses from day 20
...     signals += det.observe(state, Metric.SLEEP_DURATION, hours, t0 + timedelta(days=day))
>>> [(s.level.value, s.time.date().isoformat()) for s in signals if s.level.value != "normal"][:2]
[('borderline', '2025-01-28'), ('abnormal', '2025-01-29')]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from detectors.baseline.moments import EWMoments
from detectors.events import AlertKind, Severity
from detectors.policy import Level, Signal
from ingest.metrics import CATALOGUE, Metric

DAILY_SUM = frozenset({Metric.SLEEP_DURATION, Metric.STEPS, Metric.ACTIVITY_MINUTES})
DAILY_MEAN = frozenset({Metric.HRV_RMSSD})
BEHAVIOUR_METRICS = DAILY_SUM | DAILY_MEAN
"""Metrics judged per day by this detector."""

_DAY = 86400.0


@dataclass(slots=True)
class _Track:
    day: int = -1  # UTC day number (epoch days) being aggregated
    total: float = 0.0
    count: int = 0
    recent: EWMoments = field(default_factory=EWMoments)
    usual: EWMoments = field(default_factory=EWMoments)
    low_days: int = 0

    def to_list(self) -> list[Any]:
        return [self.day, self.total, self.count, self.recent.n, self.recent.mean, *self.usual.to_state(),
                self.low_days]  # fmt: skip

    @classmethod
    def from_list(cls, v: list[Any]) -> _Track:
        return cls(int(v[0]), float(v[1]), int(v[2]), EWMoments(int(v[3]), float(v[4])),
                   EWMoments.from_state(v[5:8]), int(v[8]))  # fmt: skip


@dataclass(slots=True)
class BehaviourState:
    """Per-patient behaviour state: one small track per daily metric seen."""

    tracks: dict[Metric, _Track] = field(default_factory=dict)

    def to_dict(self) -> dict[str, list[Any]]:
        return {m.value: t.to_list() for m, t in self.tracks.items()}

    @classmethod
    def from_dict(cls, d: dict[str, list[Any]]) -> BehaviourState:
        return cls({Metric(k): _Track.from_list(v) for k, v in d.items()})


@dataclass(frozen=True, slots=True)
class BehaviourDetector:
    """A sustained drop of a daily metric below the patient's usual level (stateless; state passed in).

    Parameters are days and fractions: ``recent_alpha`` (≈ 3-day memory),
    ``usual_alpha`` (≈ 4-week memory), ``k`` (sd below usual), ``min_drop``
    (relative drop), ``persist_days``, ``warmup_days``, ``close_grace``.
    """

    recent_alpha: float = 0.4
    usual_alpha: float = 1.0 / 28.0
    k: float = 1.0
    min_drop: float = 0.2
    persist_days: int = 2
    warmup_days: int = 7
    close_grace: timedelta = timedelta(hours=12)

    def observe(self, state: BehaviourState, metric: Metric, value: float, time: datetime) -> list[Signal]:
        """Add one usable reading of a daily metric; returns the signal of any day it closes."""
        day = int(time.timestamp() // _DAY)
        track = state.tracks.get(metric)
        if track is None:
            track = state.tracks[metric] = _Track(day=day)
        if day < track.day:
            return []  # that day has been judged already
        signals = []
        if day > track.day:
            signals = self._close(track, metric)
            track.day = day
        track.total += value
        track.count += 1
        return signals

    def tick(self, state: BehaviourState, now: datetime) -> list[Signal]:
        """Close days that ended more than ``close_grace`` before ``now``."""
        signals: list[Signal] = []
        t = now.timestamp()
        for metric, track in state.tracks.items():
            if track.count and t >= (track.day + 1) * _DAY + self.close_grace.total_seconds():
                signals += self._close(track, metric)
        return signals

    def _close(self, track: _Track, metric: Metric) -> list[Signal]:
        if track.count == 0:
            return []
        value = track.total if metric in DAILY_SUM else track.total / track.count
        track.total, track.count = 0.0, 0
        usual_mean, usual_sd, warm = track.usual.mean, track.usual.sd, track.usual.n >= self.warmup_days
        track.recent.update(value, max(self.recent_alpha, 1.0 / (track.recent.n + 1)))
        track.usual.update(value, max(self.usual_alpha, 1.0 / (track.usual.n + 1)))
        if not warm:
            return []
        recent = track.recent.mean
        floor = min(usual_mean - self.k * usual_sd, usual_mean * (1.0 - self.min_drop))
        low = recent < floor
        track.low_days = track.low_days + 1 if low else 0
        end = datetime.fromtimestamp((track.day + 1) * _DAY, UTC)
        unit = CATALOGUE[metric].unit
        drop = 1.0 - recent / usual_mean if usual_mean > 0 else 0.0
        if track.low_days >= self.persist_days:
            level = Level.ABNORMAL
            message = (
                f"{CATALOGUE[metric].display} down {drop:.0%} over recent days "
                f"({recent:.3g} vs usual {usual_mean:.3g} {unit}) for {track.low_days} days"
            )
        else:
            level = Level.BORDERLINE if low else Level.NORMAL
            message = f"{CATALOGUE[metric].display} {recent:.3g} vs usual {usual_mean:.3g} {unit}"
        severity = Severity.MEDIUM if drop >= 0.4 else Severity.LOW
        lo = usual_mean - self.k * usual_sd
        hi = usual_mean + self.k * usual_sd
        return [
            Signal(
                AlertKind.BEHAVIOUR, metric.value, end, level, severity, message,
                value=round(recent, 3), expected_low=round(max(lo, 0.0), 3), expected_high=round(hi, 3),
                score=round(min(max(drop, 0.0), 1.0), 3),
            )
        ]  # fmt: skip
