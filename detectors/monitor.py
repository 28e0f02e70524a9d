"""One patient's detectors composed: baselines, hard limits, NEWS2, multivariate, behaviour, quality, policy.

:class:`PatientMonitor` is the single implementation used by the stream worker
(state in a Faust table) and by the embedded demo, replay and evaluation
(:class:`detectors.cohort.CohortMonitor`). It is stateless itself; everything
about a patient lives in a :class:`PatientState`, which serialises compactly
(``to_bytes``: orjson of short keys and plain numbers, River-style estimators
reduced to their few floats) and round-trips exactly, so a restarted worker makes
the same decisions as an uninterrupted one.

Per reading (all times are event times):

1. a reading id seen recently (bounded window) is a duplicate: ``scored=None``, nothing changes;
2. a reading more than ``late_after`` behind the patient's watermark is *late*: it is scored
   and learned from, but its signals carry ``late=True`` (the policy never pages on them);
3. the metric's baseline scores it (prequential: score, then learn) and learns from it only
   if it has no quality flag; after ``warmup_readings`` a usable vital far from the
   patient's own range gives an ``anomaly`` signal;
4. hard limits, NEWS2 (on the freshest parameters), the multivariate score (over fresh
   residuals of warmed-up vitals), behaviour (daily metrics) and data quality add signals;
5. the alert policy turns signals into alert lifecycle events.

>>> from datetime import UTC, datetime, timedelta
>>> from ingest.episodes import PatientProfile
>>> from ingest.reading import make_reading
>>> monitor = PatientMonitor(MonitorConfig(warmup_readings=5))
>>> state = monitor.new_state(PatientProfile(patient_id="p1"))
>>> t0 = datetime(2025, 1, 6, 8, tzinfo=UTC)
>>> for i, v in enumerate([96, 97, 96, 95, 96, 97, 96, 85, 84]):
...     out = monitor.process(state, make_reading(patient_id="p1", device_id="ox", metric="spo2",
...                                               value=v, time=t0 + timedelta(minutes=10 * i)))
>>> out.scored.warm, round(out.scored.score, 3), [(e.kind.value, e.status.value) for e in out.events]
(True, 1.0, [('anomaly', 'raised'), ('hard_limit', 'raised'), ('news2', 'raised')])
>>> PatientState.from_bytes(state.to_bytes()).to_bytes() == state.to_bytes()
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson

from detectors.baseline import RobustGaussianBaseline, baseline_for, tail_score
from detectors.behaviour import BEHAVIOUR_METRICS, BehaviourDetector, BehaviourState
from detectors.events import Acknowledgement, AlertEvent, AlertKind, ScoredReading, Severity
from detectors.limits import check_limits, limit_for
from detectors.multivariate import DIRECTION, MultivariateDetector
from detectors.news2 import METRIC_PARAMETER, News2Score, News2Tracker, clinically_usable
from detectors.policy import AlertPolicy, Level, PolicyConfig, PolicyState, Signal, ignored
from detectors.quality import QualityConfig, QualityMonitor, QualityState
from ingest.episodes import PatientProfile
from ingest.metrics import CATALOGUE, Metric
from ingest.reading import Reading

ANOMALY_METRICS: frozenset[Metric] = frozenset(
    {
        Metric.HEART_RATE,
        Metric.RESPIRATORY_RATE,
        Metric.SPO2,
        Metric.SYSTOLIC_BP,
        Metric.DIASTOLIC_BP,
        Metric.BODY_TEMPERATURE,
        Metric.BLOOD_GLUCOSE,
    }
)
"""Metrics whose single readings may raise an ``anomaly`` alert (daily metrics go to behaviour)."""

_ROLES: dict[Metric, tuple[bool, bool, bool, bool]] = {
    m: (m in ANOMALY_METRICS, m in METRIC_PARAMETER, m in DIRECTION, m in BEHAVIOUR_METRICS) for m in Metric
}
"""Per metric: (anomaly alerts, NEWS2 parameter, multivariate vital, behaviour metric)."""

_METRIC_NAMES: dict[Metric, str] = {m: m.value for m in Metric}
"""``metric.value`` without the enum descriptor on the hot path."""


@dataclass(frozen=True, slots=True)
class MonitorConfig:
    """Tuning of :class:`PatientMonitor` (build it from ``Settings.detectors`` in the stream layer).

    ``anomaly_z``/``borderline_z`` are |z| against the patient's own baseline (score =
    two-sided normal tail of z; 3.5 ≈ score 0.9995). ``dedup_window`` is how many recent
    reading ids per patient are remembered.
    """

    policy: PolicyConfig = field(default_factory=PolicyConfig)
    warmup_readings: int = 30
    news2_freshness: timedelta = timedelta(hours=4)
    late_after: timedelta = timedelta(minutes=30)
    anomaly_z: float = 3.5
    borderline_z: float = 2.5
    fading_factor: float = 0.02
    dedup_window: int = 128
    multivariate: MultivariateDetector = field(default_factory=MultivariateDetector)
    behaviour: BehaviourDetector = field(default_factory=BehaviourDetector)
    quality: QualityConfig = field(default_factory=QualityConfig)

    def __post_init__(self) -> None:
        if self.warmup_readings < 0:
            raise ValueError("warmup_readings: must be >= 0")
        if not 0 < self.borderline_z <= self.anomaly_z:
            raise ValueError("borderline_z/anomaly_z: need 0 < borderline_z <= anomaly_z")
        if self.dedup_window < 1:
            raise ValueError("dedup_window: must be >= 1")
        if self.late_after <= timedelta(0) or self.news2_freshness <= timedelta(0):
            raise ValueError("late_after/news2_freshness: must be positive")


@dataclass(slots=True)
class PatientState:
    """Everything the monitor knows about one patient; ``to_bytes``/``from_bytes`` round-trip exactly."""

    patient_id: str
    spo2_scale: int = 1
    fading_factor: float = 0.02
    baselines: dict[Metric, RobustGaussianBaseline] = field(default_factory=dict)
    residuals: dict[Metric, tuple[float, float]] = field(default_factory=dict)  # metric -> (z, epoch s)
    news2: News2Tracker = field(default_factory=News2Tracker)
    behaviour: BehaviourState = field(default_factory=BehaviourState)
    quality: QualityState = field(default_factory=QualityState)
    policy: PolicyState = field(default_factory=PolicyState)
    watermark: float = float("-inf")
    recent_ids: dict[str, None] = field(default_factory=dict)
    """The last ``dedup_window`` reading ids, oldest first (a dict: ordered, and half the memory of a
    deque beside a set)."""

    def baseline(self, metric: Metric) -> RobustGaussianBaseline | None:
        b = self.baselines.get(metric)
        if b is None:
            b = baseline_for(metric, self.fading_factor)
            if b is not None:
                self.baselines[metric] = b
        return b

    def seen(self, reading_id: str) -> bool:
        return reading_id in self.recent_ids

    def remember(self, key: str, window: int) -> None:
        ids = self.recent_ids
        ids[key] = None
        while len(ids) > window:
            del ids[next(iter(ids))]

    def to_dict(self) -> dict[str, Any]:
        return {
            "p": self.patient_id,
            "s": self.spo2_scale,
            "f": self.fading_factor,
            "b": {m.value: b.to_state() for m, b in self.baselines.items()},
            "z": {m.value: list(v) for m, v in self.residuals.items()},
            "n": self.news2.to_dict(),
            "h": self.behaviour.to_dict(),
            "q": self.quality.to_dict(),
            "a": self.policy.to_dict(),
            "w": self.watermark if self.watermark != float("-inf") else None,
            "d": list(self.recent_ids),
        }

    def to_bytes(self) -> bytes:
        """Compact JSON bytes (no pickle): a few hundred bytes per metric."""
        return orjson.dumps(self.to_dict())

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PatientState:
        state = cls(patient_id=d["p"], spo2_scale=d["s"], fading_factor=d["f"])
        for name, values in d["b"].items():
            b = state.baseline(Metric(name))
            assert b is not None
            b.load_state(values)
        state.residuals = {Metric(k): (float(v[0]), float(v[1])) for k, v in d["z"].items()}
        state.news2 = News2Tracker.from_dict(d["n"])
        state.behaviour = BehaviourState.from_dict(d["h"])
        state.quality = QualityState.from_dict(d["q"])
        state.policy = PolicyState.from_dict(d["a"])
        state.watermark = float("-inf") if d["w"] is None else float(d["w"])
        state.recent_ids = dict.fromkeys(d["d"])
        return state

    @classmethod
    def from_bytes(cls, data: bytes) -> PatientState:
        """Rebuild a state written by :meth:`to_bytes`."""
        return cls.from_dict(orjson.loads(data))


@dataclass(frozen=True, slots=True)
class MonitorOutput:
    """What one reading produced: its score (None for a duplicate), the current NEWS2 and alert events."""

    scored: ScoredReading | None
    news2: News2Score | None
    events: list[AlertEvent]


class PatientMonitor:
    """Applies all detectors and the alert policy to one patient's readings (see module docstring)."""

    __slots__ = ("_fresh_s", "_late_s", "config", "policy", "quality")

    def __init__(self, config: MonitorConfig | None = None) -> None:
        self.config = config or MonitorConfig()
        self.policy = AlertPolicy(self.config.policy)
        self.quality = QualityMonitor(self.config.quality)
        self._late_s = self.config.late_after.total_seconds()
        self._fresh_s = self.config.news2_freshness.total_seconds()

    def new_state(self, profile: PatientProfile) -> PatientState:
        return PatientState(profile.patient_id, profile.spo2_scale, self.config.fading_factor)

    @staticmethod
    def apply_profile(state: PatientState, profile: PatientProfile) -> None:
        """Take a changed profile into an existing state (the SpO2 scale for NEWS2 and hard limits).

        The learned baselines and open alerts are kept; the next reading is judged on the new scale.

        >>> from ingest.episodes import PatientProfile
        >>> monitor = PatientMonitor()
        >>> state = monitor.new_state(PatientProfile(patient_id="p-1"))
        >>> monitor.apply_profile(state, PatientProfile(patient_id="p-1", spo2_scale=2))
        >>> state.spo2_scale
        2
        """
        if profile.patient_id != state.patient_id:
            raise ValueError(f"patient_id: profile of {profile.patient_id!r} given for another patient")
        state.spo2_scale = profile.spo2_scale

    def process(self, state: PatientState, reading: Reading) -> MonitorOutput:
        """Score one reading, update the state and return any alert events."""
        key = reading.reading_id
        if state.seen(key):
            return MonitorOutput(None, None, [])
        cfg = self.config
        state.remember(key, cfg.dedup_window)
        metric, time = reading.metric, reading.time
        ts = time.timestamp()
        late = ts < state.watermark - self._late_s
        if ts > state.watermark:
            state.watermark = ts
        usable = clinically_usable(reading)
        anomaly_role, news2_role, multi_role, behaviour_role = _ROLES[metric]
        signals: list[Signal] = []

        scored, z = self._score(state, reading, usable)
        warm_z = z is not None and scored.warm
        if warm_z and anomaly_role:
            anomaly = self._anomaly_signal(state, reading, scored, z, late)  # type: ignore[arg-type]
            if anomaly is not None:
                signals.append(anomaly)
        if usable:
            limit = self._limit_signal(state, reading, late)
            if limit is not None:
                signals.append(limit)
        news2 = None
        if news2_role and usable:
            news2 = self._news2(state, reading, ts, late, signals)
        if warm_z and multi_role and not late:
            multi = self._multivariate(state, metric, z, ts, time)  # type: ignore[arg-type]
            if multi is not None:
                signals.append(multi)
        if behaviour_role and usable:
            signals += cfg.behaviour.observe(state.behaviour, metric, reading.value, time)
        signals += self.quality.observe(state.quality, reading, late=late)

        events: list[AlertEvent] = []
        for signal in signals:
            events += self.policy.observe(state.policy, state.patient_id, signal)
        return MonitorOutput(scored, news2, events)

    def acknowledge(self, state: PatientState, ack: Acknowledgement) -> list[AlertEvent]:
        """Apply a clinician's acknowledgement or snooze."""
        return self.policy.acknowledge(state.policy, ack)

    def tick(self, state: PatientState, now: datetime) -> list[AlertEvent]:
        """Advance event time: data gaps, wear time and behaviour days, then escalation, snoozes, resolves."""
        events: list[AlertEvent] = []
        signals = self.quality.tick(state.quality, now) + self.config.behaviour.tick(state.behaviour, now)
        for signal in signals:
            events += self.policy.observe(state.policy, state.patient_id, signal)
        return events + self.policy.tick(state.policy, state.patient_id, now)

    # -- internals ------------------------------------------------------------------------------
    def _score(
        self, state: PatientState, reading: Reading, usable: bool
    ) -> tuple[ScoredReading, float | None]:
        baseline = state.baseline(reading.metric)
        if baseline is None:
            return ScoredReading(reading, 0.0, None, None, False), None
        value, hour = reading.value, reading.time.hour
        warm = baseline.n_seen >= self.config.warmup_readings
        assessed = baseline.assess_value(value, hour)
        if usable:
            baseline.learn_value(value, hour)
        if assessed is None:
            return ScoredReading(reading, 0.0, None, None, False), None
        z, lo, hi = assessed
        return ScoredReading(reading, tail_score(z), lo, hi, warm), (z if usable else None)

    @staticmethod
    def _limit_signal(state: PatientState, reading: Reading, late: bool) -> Signal | None:
        """The hard-limit signal of a usable reading, unless the policy would ignore it anyway."""
        limit = limit_for(reading.metric, state.spo2_scale)
        if limit is None:
            return None
        level = limit.level(reading.value)
        if ignored(state.policy, AlertKind.HARD_LIMIT, _METRIC_NAMES[reading.metric], level):
            return None
        return check_limits(reading, state.spo2_scale, late=late)

    def _news2(
        self, state: PatientState, reading: Reading, ts: float, late: bool, signals: list[Signal]
    ) -> News2Score | None:
        """Update the NEWS2 parameters with a usable reading; score the fresh set unless it is late."""
        tracker = state.news2
        tracker.observe(METRIC_PARAMETER[reading.metric], reading.value, ts)
        if late:
            return None
        verdict = tracker.verdict(ts, self._fresh_s, state.spo2_scale)
        if verdict is None:
            return None
        if not ignored(state.policy, AlertKind.NEWS2, None, verdict.level):
            signals.append(verdict.signal(reading.time))
        return verdict.score

    def _anomaly_signal(
        self, state: PatientState, reading: Reading, scored: ScoredReading, z: float, late: bool
    ) -> Signal | None:
        cfg = self.config
        size = abs(z)
        level = (
            Level.ABNORMAL
            if size >= cfg.anomaly_z
            else Level.BORDERLINE
            if size >= cfg.borderline_z
            else (Level.NORMAL)
        )
        if ignored(state.policy, AlertKind.ANOMALY, _METRIC_NAMES[reading.metric], level):
            return None  # the policy has nothing to remember it for: skip the work
        message = ""  # NORMAL signals only feed the policy's window and hysteresis: no text needed
        if level is not Level.NORMAL:
            spec = CATALOGUE[reading.metric]
            message = (
                f"{spec.display} {reading.value:.4g} {spec.unit} is {'above' if z > 0 else 'below'} this "
                f"patient's usual range {scored.expected_low:.4g}–{scored.expected_high:.4g} {spec.unit} "
                f"(z {z:+.1f})"
            )
        severity = Severity.MEDIUM if size >= cfg.anomaly_z + 2.0 else Severity.LOW
        lo, hi = scored.expected_low, scored.expected_high
        return Signal(
            AlertKind.ANOMALY, reading.metric.value, reading.time, level, severity, message,
            value=reading.value, expected_low=lo, expected_high=hi, score=scored.score, late=late,
        )  # fmt: skip

    def _multivariate(
        self, state: PatientState, metric: Metric, z: float, ts: float, time: datetime
    ) -> Signal | None:
        held = state.residuals.get(metric)
        if held is None or ts >= held[1]:
            state.residuals[metric] = (z, ts)
        window = self._fresh_s
        fresh = {m: rz for m, (rz, rts) in state.residuals.items() if ts - rts <= window}
        detector = self.config.multivariate
        combined = detector.combined_z(fresh)
        if combined is None:
            return None
        normal = combined < detector.abnormal_z and combined < detector.borderline_z
        if normal and ignored(state.policy, AlertKind.MULTIVARIATE, None, Level.NORMAL):
            return None  # a NORMAL signal without a track: the policy would drop it
        return detector.signal(fresh, time)


__all__ = ["ANOMALY_METRICS", "MonitorConfig", "MonitorOutput", "PatientMonitor", "PatientState"]
