"""Data-quality detectors: data gaps, flat-lines, impossible jumps and daily wear time.

They watch the data, not the patient: a silent device (not worn, flat battery), a sensor
repeating one value, a heart rate jumping 80 /min in ten seconds, or a wearable worn for
only a few hours a day. They emit :class:`~detectors.policy.Signal`\\ s of the kinds
DATA_GAP, FLATLINE, IMPLAUSIBLE and WEAR_TIME (severity LOW: they ask for a device check,
not a clinical response) for the :class:`~detectors.policy.AlertPolicy`.

Detection is per (device, metric) stream; alerts are per (kind, metric). All state is
plain numbers in :class:`QualityState` (compact ``to_dict``/``from_dict``); the rules live
in :class:`QualityMonitor` with its frozen :class:`QualityConfig`.

>>> from datetime import UTC, datetime, timedelta
>>> from ingest.reading import make_reading
>>> qm, st = QualityMonitor(), QualityState()
>>> t0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
>>> for i in range(10):  # a heart rate every minute: the cadence is learned
...     _ = qm.observe(st, make_reading(patient_id="p1", device_id="w1", metric="heart_rate",
...                                     value=70 + i % 3, time=t0 + timedelta(minutes=i)))
>>> qm.tick(st, t0 + timedelta(minutes=20))
[]
>>> [s.message for s in qm.tick(st, t0 + timedelta(minutes=45))]
['No heart rate data for 36 minutes (expected about every 1 minute)']
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from detectors.events import AlertKind, Severity
from detectors.news2 import clinically_usable
from detectors.policy import Level, Signal
from ingest.metrics import CATALOGUE, Metric
from ingest.reading import Quality, Reading, Source

_DAY = 86_400.0
_OFF = frozenset({Quality.OFF_BODY, Quality.PROBE_OFF})


@dataclass(frozen=True, slots=True)
class QualityConfig:
    """Tuning of the data-quality detectors.

    Gaps: the expected interval of a stream is the ``cadence_quantile`` of its last
    ``intervals_kept`` intervals (the 0.8 quantile copes with devices that send bursts),
    or ``declared_cadence_s`` for its metric; a gap is silence longer than
    ``max(gap_factor * expected, gap_floor_minutes)``, judged once ``min_intervals`` are
    known. A stream silent for ``forget_after_days`` is dropped (its gap alert resolves).
    Flat-lines: the same value ``flatline_runs[metric]`` times in a row. Jumps: a change of
    more than ``jump_limits[metric][0]`` within ``jump_limits[metric][1]`` seconds.
    Wear time: the share of 5-minute slots of a UTC day with wearable heart-rate data.
    """

    gap_factor: float = 3.0
    gap_floor_minutes: float = 30.0
    min_intervals: int = 5
    intervals_kept: int = 15
    cadence_quantile: float = 0.8
    forget_after_days: float = 7.0
    declared_cadence_s: dict[Metric, float] = field(default_factory=dict)
    flatline_runs: dict[Metric, int] = field(
        default_factory=lambda: {Metric.HEART_RATE: 30, Metric.RESPIRATORY_RATE: 30, Metric.SPO2: 240}
    )
    jump_limits: dict[Metric, tuple[float, float]] = field(
        default_factory=lambda: {
            Metric.HEART_RATE: (60.0, 30.0),
            Metric.BODY_TEMPERATURE: (2.0, 300.0),
            Metric.SPO2: (20.0, 30.0),
        }
    )
    jump_normal_tail: int = 10
    wear_metric: Metric = Metric.HEART_RATE
    wear_min_share: float = 0.6
    wear_slot_minutes: int = 5

    def __post_init__(self) -> None:
        if not 0.0 < self.cadence_quantile <= 1.0:
            raise ValueError("cadence_quantile: must be in (0, 1]")
        if self.min_intervals < 1 or self.intervals_kept < self.min_intervals:
            raise ValueError("min_intervals/intervals_kept: need 1 <= min_intervals <= intervals_kept")
        if 1440 % self.wear_slot_minutes:
            raise ValueError("wear_slot_minutes: must divide a day (1440 minutes)")
        if not 0.0 <= self.wear_min_share <= 1.0:
            raise ValueError("wear_min_share: must be between 0 and 1")


_STREAM_KEYS = {
    "last": "t", "intervals": "iv", "in_gap": "g", "value": "v", "run": "r", "flat": "f", "ref": "rv",
    "ref_t": "rt", "tail": "tl",
}  # fmt: skip


@dataclass(slots=True)
class _Stream:
    """State of one (device, metric) stream."""

    last: float = -math.inf  # latest event time seen (epoch s)
    intervals: list[float] = field(default_factory=list)
    in_gap: bool = False
    value: float | None = None  # last usable value (flat-line)
    run: int = 0
    flat: bool = False
    ref: float | None = None  # last non-jump value and time (jumps)
    ref_t: float = 0.0
    tail: int = 0  # NORMAL jump signals still to emit after an abnormal one

    def to_dict(self) -> dict[str, Any]:
        """The fields that differ from their defaults (the others are left out: most are)."""
        out = {}
        for a, k, default in _STREAM_DEFAULTS:
            v = getattr(self, a)
            if v != default:
                out[k] = v
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> _Stream:
        return cls(**{a: d[k] for a, k in _STREAM_KEYS.items() if k in d})


_STREAM_DEFAULTS = tuple((a, k, getattr(_Stream(), a)) for a, k in _STREAM_KEYS.items())


@dataclass(slots=True)
class _Wear:
    """Wear time of the current UTC day: a bit per slot with data."""

    day: int | None = None  # days since the epoch
    mask: int = 0
    partial: bool = True  # tracking started during this day: not judged

    def to_dict(self) -> dict[str, Any]:
        return {"d": self.day, "m": format(self.mask, "x"), "p": self.partial}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> _Wear:
        return cls(d["d"], int(d["m"], 16), d["p"])


@dataclass(slots=True)
class QualityState:
    """All data-quality state of one patient.

    >>> s = QualityState()
    >>> QualityState.from_dict(s.to_dict()) == s
    True
    """

    streams: dict[str, _Stream] = field(default_factory=dict)
    wear: _Wear = field(default_factory=_Wear)
    quiet_until: float = field(default=-math.inf, compare=False, repr=False)
    """No stream can change state on a tick at or before this event time (epoch s): a lower bound kept
    by :meth:`QualityMonitor.tick` and ``observe``, not stored (-inf after decoding: the next tick checks
    every stream). Most ticks then skip the per-stream loop."""

    def to_dict(self) -> dict[str, Any]:
        return {"s": {k: v.to_dict() for k, v in self.streams.items()}, "w": self.wear.to_dict()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> QualityState:
        return cls({k: _Stream.from_dict(v) for k, v in d["s"].items()}, _Wear.from_dict(d["w"]))


_STREAM_KEYS_MADE: dict[tuple[str, Metric], str] = {}
_STREAM_KEYS_MAX = 65_536


def _stream_key(device_id: str, metric: Metric) -> str:
    """``"device|metric"``, the key of a stream in :class:`QualityState` (memoised: the hot path)."""
    key = _STREAM_KEYS_MADE.get((device_id, metric))
    if key is None:
        if len(_STREAM_KEYS_MADE) >= _STREAM_KEYS_MAX:
            _STREAM_KEYS_MADE.clear()
        key = _STREAM_KEYS_MADE[(device_id, metric)] = f"{device_id}|{metric.value}"
    return key


@lru_cache(maxsize=1024)
def _stream_metric(key: str) -> Metric:
    """The metric of a stream key made by :func:`_stream_key`."""
    return Metric(key.rpartition("|")[2])


def _name(metric: Metric) -> str:
    return CATALOGUE[metric].display.lower()


def _title(metric: Metric) -> str:
    return CATALOGUE[metric].display.capitalize()


def _minutes(seconds: float) -> str:
    n = round(seconds / 60.0)
    return f"{n} minute" if n == 1 else f"{n} minutes"


class QualityMonitor:
    """Apply a :class:`QualityConfig` to a patient's :class:`QualityState` (mutated in place)."""

    __slots__ = ("_soonest", "config")

    def __init__(self, config: QualityConfig | None = None) -> None:
        self.config = config or QualityConfig()
        self._soonest = min(self.config.gap_floor_minutes * 60.0, self.config.forget_after_days * _DAY)
        """Seconds of silence before a tick can change a stream's state (a gap, or forgetting it)."""

    # -- public API -----------------------------------------------------------------------------
    def observe(self, state: QualityState, reading: Reading, *, late: bool = False) -> list[Signal]:
        """Feed one reading (any quality); return the data-quality signals it causes.

        ``late`` (or a ``late`` quality flag) marks the signals as coming from late data.
        """
        signals: list[Signal] = []
        flags = reading.quality
        if not flags or flags.isdisjoint(_OFF):  # off the body: no data for gaps or wear
            self._observe(state, reading, signals)
        if signals and (late or Quality.LATE in flags):
            return [replace(s, late=True) for s in signals]
        return signals

    def _observe(self, state: QualityState, reading: Reading, signals: list[Signal]) -> None:
        t = reading.time.timestamp()
        self._wear(state, reading, t, signals)
        key = _stream_key(reading.device_id, reading.metric)
        stream = state.streams.get(key)
        if stream is None:
            stream = state.streams[key] = _Stream()
        if t <= stream.last:
            return  # out of order or repeated: says nothing about cadence or sequence
        self._cadence(stream, reading, t, signals)
        # silent since t: no tick acts on the stream before the gap floor (or forgetting) has passed
        state.quiet_until = min(state.quiet_until, t + self._soonest)
        flags = reading.quality
        if not flags:  # the usual case: a clean reading
            self._flatline(stream, reading, signals)
            self._jump(stream, reading, t, signals)
        elif Quality.IMPLAUSIBLE in flags:
            stream.tail = self.config.jump_normal_tail
            why = f"Implausible {_name(reading.metric)} value {reading.value:g}"
            signals.append(self._signal(AlertKind.IMPLAUSIBLE, reading, Level.ABNORMAL, why))
        elif clinically_usable(reading):
            self._flatline(stream, reading, signals)
            self._jump(stream, reading, t, signals)

    def tick(self, state: QualityState, now: datetime) -> list[Signal]:
        """Advance event time: data gaps and the wear time of finished days."""
        t = now.timestamp()
        signals: list[Signal] = []
        if t > state.quiet_until:
            self._gaps(state, now, t, signals)
        wear = state.wear
        if wear.day is not None and t >= (wear.day + 1) * _DAY:
            self._close_day(wear, int(t // _DAY), signals)
        return signals

    def _gaps(self, state: QualityState, now: datetime, t: float, signals: list[Signal]) -> None:
        """Report streams silent for too long, forget long-silent ones, and note when the next could be."""
        cfg = self.config
        floor = cfg.gap_floor_minutes * 60.0
        forget = cfg.forget_after_days * _DAY
        quiet_until = math.inf  # the earliest event time at which some stream may change state
        for key, stream in list(state.streams.items()):
            silence = t - stream.last
            if stream.in_gap and silence <= forget:
                quiet_until = min(quiet_until, stream.last + forget)
                continue  # already reported
            if silence <= self._soonest:
                quiet_until = min(quiet_until, stream.last + self._soonest)
                continue  # too short for a gap (none is shorter than the floor) or to be forgotten
            metric = _stream_metric(key)
            if silence > forget:
                del state.streams[key]
                if stream.in_gap:
                    why = f"No {_name(metric)} data for {silence / _DAY:.0f} days: no longer watched"
                    signals.append(Signal(AlertKind.DATA_GAP, metric.value, now, Level.NORMAL, message=why))
                continue
            expected = self.expected_interval(stream, metric)
            if expected is None:  # still learning: only forgetting can happen before the next reading
                quiet_until = min(quiet_until, stream.last + forget)
                continue
            limit = max(cfg.gap_factor * expected, floor)
            if silence <= limit:  # a gap after the limit, unless the stream is forgotten first
                quiet_until = min(quiet_until, stream.last + min(limit, forget))
            else:
                quiet_until = min(quiet_until, stream.last + forget)
                stream.in_gap = True
                every = _minutes(expected)
                why = f"No {_name(metric)} data for {_minutes(silence)} (expected about every {every})"
                signals.append(
                    Signal(
                        AlertKind.DATA_GAP,
                        metric.value,
                        now,
                        Level.ABNORMAL,
                        Severity.LOW,
                        why,
                        value=silence / 60.0,
                        expected_high=expected / 60.0,
                    )
                )
        state.quiet_until = quiet_until

    def expected_interval(self, stream: _Stream, metric: Metric) -> float | None:
        """The expected seconds between readings of a stream (None while still learning)."""
        declared = self.config.declared_cadence_s.get(metric)
        if declared is not None:
            return declared
        if len(stream.intervals) < self.config.min_intervals:
            return None
        ordered = sorted(stream.intervals)
        return ordered[min(len(ordered) - 1, int(self.config.cadence_quantile * len(ordered)))]

    # -- internals ------------------------------------------------------------------------------
    def _cadence(self, stream: _Stream, reading: Reading, t: float, signals: list[Signal]) -> None:
        if math.isfinite(stream.last):
            gap = t - stream.last
            intervals, kept = stream.intervals, self.config.intervals_kept
            intervals.append(round(gap, 1))
            if len(intervals) > kept:
                del intervals[:-kept]
            if stream.in_gap:
                stream.in_gap = False
                why = f"{_title(reading.metric)} data resumed after {_minutes(gap)}"
                signals.append(self._signal(AlertKind.DATA_GAP, reading, Level.NORMAL, why))
        stream.last = t

    def _flatline(self, stream: _Stream, reading: Reading, signals: list[Signal]) -> None:
        limit = self.config.flatline_runs.get(reading.metric)
        if limit is None:
            return
        if stream.value == reading.value:
            stream.run += 1
        else:
            stream.run, stream.value = 1, reading.value
            if stream.flat:
                stream.flat = False
                why = f"{_title(reading.metric)} values vary again"
                signals.append(self._signal(AlertKind.FLATLINE, reading, Level.NORMAL, why))
        if stream.run == limit:
            stream.flat = True
            why = f"{_title(reading.metric)} repeated the same value {reading.value:g} {limit} times"
            signals.append(
                self._signal(AlertKind.FLATLINE, reading, Level.ABNORMAL, why + " (sensor fault?)")
            )

    def _jump(self, stream: _Stream, reading: Reading, t: float, signals: list[Signal]) -> None:
        rule = self.config.jump_limits.get(reading.metric)
        if rule is None:
            return
        max_change, within = rule
        if (
            stream.ref is not None
            and t - stream.ref_t <= within
            and abs(reading.value - stream.ref) > max_change
        ):
            stream.tail = self.config.jump_normal_tail  # the reference stays: a spike is judged against it
            why = (
                f"{_title(reading.metric)} changed from {stream.ref:g} to {reading.value:g} in "
                f"{t - stream.ref_t:.0f} s (over {max_change:g} within {within:g} s is not physiological)"
            )
            signals.append(self._signal(AlertKind.IMPLAUSIBLE, reading, Level.ABNORMAL, why))
            return
        stream.ref, stream.ref_t = reading.value, t
        if stream.tail > 0:
            stream.tail -= 1
            signals.append(self._signal(AlertKind.IMPLAUSIBLE, reading, Level.NORMAL, "Plausible change"))

    def _wear(self, state: QualityState, reading: Reading, t: float, signals: list[Signal]) -> None:
        if reading.metric is not self.config.wear_metric or reading.source is not Source.WEARABLE:
            return
        wear = state.wear
        day = int(t // _DAY)
        if wear.day is None:
            wear.day = day
        elif day > wear.day:
            self._close_day(wear, day, signals)
        elif day < wear.day:
            return  # a finished day is not reopened
        wear.mask |= 1 << int((t - day * _DAY) // (self.config.wear_slot_minutes * 60))

    def _close_day(self, wear: _Wear, new_day: int, signals: list[Signal]) -> None:
        assert wear.day is not None
        if not wear.partial:
            slots = 1440 // self.config.wear_slot_minutes
            share = wear.mask.bit_count() / slots
            date = datetime.fromtimestamp(wear.day * _DAY, UTC).date().isoformat()
            metric, end = self.config.wear_metric.value, datetime.fromtimestamp((wear.day + 1) * _DAY, UTC)
            if share < self.config.wear_min_share:
                why = (
                    f"Wearable worn for {share:.0%} of {date} (UTC); "
                    f"at least {self.config.wear_min_share:.0%} expected"
                )
                signals.append(
                    Signal(
                        AlertKind.WEAR_TIME,
                        metric,
                        end,
                        Level.ABNORMAL,
                        Severity.LOW,
                        why,
                        value=share * 100.0,
                        expected_low=self.config.wear_min_share * 100.0,
                    )
                )
            else:
                why = f"Wearable worn for {share:.0%} of {date} (UTC)"
                signals.append(
                    Signal(AlertKind.WEAR_TIME, metric, end, Level.NORMAL, message=why, value=share * 100.0)
                )
        wear.day, wear.mask, wear.partial = new_day, 0, False

    @staticmethod
    def _signal(kind: AlertKind, reading: Reading, level: Level, why: str) -> Signal:
        severity = Severity.LOW if level is Level.ABNORMAL else Severity.INFO
        return Signal(kind, reading.metric.value, reading.time, level, severity, why, value=reading.value)
