"""The alert policy: a pure state machine from detector signals to alert lifecycle events.

Detectors (NEWS2, hard limits, baselines, data quality) emit :class:`Signal`\\ s; the
:class:`AlertPolicy` turns them into :class:`~detectors.events.AlertEvent`\\ s:

* **persistence** — an alert is raised only when ``persist_n`` of the last ``persist_m``
  signals for the same (kind, metric) are ABNORMAL, or (if ``persist_minutes`` is set) when
  the signal has stayed abnormal that long (kinds in ``immediate_kinds`` raise at once: their
  detector already applied its own persistence);
* **deduplication** — one open alert per (patient, kind, metric);
* **escalation** — an unacknowledged alert of a kind in ``escalate_kinds`` (the clinical ones)
  still open ``escalate_after_minutes`` after it was raised (or last escalated) is re-notified
  one severity higher (ESCALATED); a worse signal escalates at once;
* **hysteresis** — an open alert resolves after ``resolve_after_normal`` NORMAL signals in a
  row, or on :meth:`AlertPolicy.tick` when nothing abnormal or borderline was seen for
  ``resolve_after_minutes``; BORDERLINE keeps it open but never raises;
* **acknowledge / snooze** — an acknowledged alert neither escalates by time nor re-notifies
  until it worsens (higher severity); a snoozed one re-notifies when the snooze ends and it is
  still open;
* **late data** (``signal.late``) never pages: it may open an alert flagged ``late=True`` at
  most at ``late_max_severity`` (LOW), is ignored while a current (non-late) alert is open,
  and never escalates.

All times are event times. State is plain data with a compact ``to_dict``/``from_dict``.

>>> from datetime import UTC, datetime, timedelta
>>> t0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
>>> policy, state = AlertPolicy(PolicyConfig(persist_n=2, persist_m=3)), PolicyState()
>>> low = lambda i: Signal(AlertKind.HARD_LIMIT, "spo2", t0 + timedelta(minutes=i), Level.ABNORMAL,
...                        Severity.HIGH, "SpO2 85 % is below the hard limit of 88 %", value=85.0)
>>> policy.observe(state, "p1", low(0))
[]
>>> [(e.status.value, e.severity.label) for e in policy.observe(state, "p1", low(1))]
[('raised', 'high')]
>>> policy.observe(state, "p1", low(2))  # deduplicated: the alert is already open
[]
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from detectors.events import (
    AckAction,
    Acknowledgement,
    AlertEvent,
    AlertKind,
    AlertStatus,
    Severity,
    alert_id_for,
)


class Level(StrEnum):
    """How far a signal is from normal. BORDERLINE keeps an alert open but never raises one."""

    NORMAL = "normal"
    BORDERLINE = "borderline"
    ABNORMAL = "abnormal"


@dataclass(frozen=True, slots=True)
class Signal:
    """One detector's verdict on one reading (or one tick), with its evidence.

    ``severity`` matters only when ``level`` is ABNORMAL. ``message`` says in plain clinical
    English what was seen (no patient id); the policy adds why the alert fired.
    """

    kind: AlertKind
    metric: str | None
    time: datetime
    level: Level
    severity: Severity = Severity.INFO
    message: str = ""
    value: float | None = None
    expected_low: float | None = None
    expected_high: float | None = None
    score: float | None = None
    news2_total: int | None = None
    news2_subscores: dict[str, int] = field(default_factory=dict)
    late: bool = False


CLINICAL_KINDS = frozenset({AlertKind.NEWS2, AlertKind.HARD_LIMIT, AlertKind.ANOMALY, AlertKind.MULTIVARIATE})
"""The kinds about the patient's physiology (the others are about data quality or behaviour)."""

_IMMEDIATE = frozenset({AlertKind.DATA_GAP, AlertKind.FLATLINE, AlertKind.WEAR_TIME, AlertKind.BEHAVIOUR})


@dataclass(frozen=True, slots=True)
class PolicyConfig:
    """Tuning of the alert policy (see the module docstring for what each rule does)."""

    persist_n: int = 2
    persist_m: int = 3
    persist_minutes: float | None = 15.0
    escalate_after_minutes: float = 30.0
    max_escalations: int = 2
    resolve_after_normal: int = 3
    resolve_after_minutes: float | None = 120.0
    snooze_minutes: float = 60.0
    late_max_severity: Severity = Severity.LOW
    immediate_kinds: frozenset[AlertKind] = _IMMEDIATE
    escalate_kinds: frozenset[AlertKind] = CLINICAL_KINDS

    def __post_init__(self) -> None:
        if not 1 <= self.persist_n <= self.persist_m <= 30:
            raise ValueError(
                f"persist_n/persist_m: need 1 <= n <= m <= 30, got {self.persist_n}/{self.persist_m}"
            )
        if self.resolve_after_normal < 1:
            raise ValueError("resolve_after_normal: must be at least 1")
        for name in ("persist_minutes", "resolve_after_minutes"):
            v = getattr(self, name)
            if v is not None and not (math.isfinite(v) and v > 0):
                raise ValueError(f"{name}: must be a positive number of minutes or None")
        for name in ("escalate_after_minutes", "snooze_minutes"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0):
                raise ValueError(f"{name}: must be a positive number of minutes")


def _ts(t: datetime) -> float:
    return t.timestamp()


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _evidence_of(signal: Signal) -> dict[str, Any]:
    """A signal's evidence in short keys (repeated on escalation and resolution); empty fields left out."""
    pairs = ((k, getattr(signal, a)) for a, k in _EVIDENCE_KEYS.items())
    return {k: v for k, v in pairs if v not in (None, "", {})}


# short keys for the compact dict form: attribute name -> key
_TRACK_KEYS = {
    "bits": "b", "count": "c", "abn_since": "as", "last_abn": "la", "normals": "n", "alert_id": "id",
    "start": "st", "severity": "sv", "notified": "nt", "escalations": "e", "acked": "ak",
    "snooze_until": "su", "late": "lt",
}  # fmt: skip
_EVIDENCE_KEYS = {
    "message": "m", "value": "v", "expected_low": "lo", "expected_high": "hi", "score": "sc",
    "news2_total": "n2", "news2_subscores": "ss",
}  # fmt: skip
"""Signal field -> short key of the evidence kept with an open alert."""


@dataclass(slots=True)
class _Track:
    """Per (kind, metric) state: the recent signal window and the open alert, if any."""

    bits: int = 0  # last persist_m levels, bit 0 newest, 1 = abnormal
    count: int = 0  # signals in the window (<= persist_m)
    abn_since: float | None = None  # first abnormal of the current streak (epoch s)
    last_abn: float | None = None  # last abnormal or borderline signal (epoch s)
    normals: int = 0  # NORMAL signals in a row
    alert_id: str | None = None
    start: float | None = None
    severity: int = 0
    notified: float | None = None  # last raise/escalation (epoch s), for time escalation
    escalations: int = 0
    acked: bool = False
    snooze_until: float | None = None
    late: bool = False
    evidence: dict[str, Any] = field(default_factory=dict)  # of the last abnormal signal

    @property
    def open(self) -> bool:
        return self.alert_id is not None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {}
        for attr, key in _TRACK_KEYS.items():
            v = getattr(self, attr)
            if v not in (None, 0, False):
                d[key] = v
        if self.evidence:
            d["ev"] = self.evidence
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> _Track:
        return cls(
            **{attr: d[key] for attr, key in _TRACK_KEYS.items() if key in d}, evidence=d.get("ev", {})
        )


_TRACK_KEYS_MADE: dict[tuple[AlertKind, str | None], str] = {}
"""Memo of :func:`track_key` (a few dozen kind/metric pairs): the hot path skips the f-string."""


def track_key(kind: AlertKind, metric: str | None) -> str:
    """The policy's key for one alert track: kind and metric (``"anomaly|heart_rate"``)."""
    key = _TRACK_KEYS_MADE.get((kind, metric))
    if key is None:
        key = _TRACK_KEYS_MADE[(kind, metric)] = f"{kind.value}|{metric or ''}"
    return key


def ignored(state: PolicyState, kind: AlertKind, metric: str | None, level: Level) -> bool:
    """True when :meth:`AlertPolicy.observe` would do nothing at all with such a signal.

    A NORMAL or BORDERLINE signal for a (kind, metric) without a track is dropped by the
    policy, so detectors may skip building it (its message, evidence and record).
    """
    if level is Level.ABNORMAL:
        return False
    tracks = state.tracks
    return not tracks or track_key(kind, metric) not in tracks  # most patients have no track at all


def _unkey(key: str) -> tuple[AlertKind, str | None]:
    kind, _, metric = key.partition("|")
    return AlertKind(kind), metric or None


@dataclass(slots=True)
class PolicyState:
    """All alert-policy state of one patient: one track per (kind, metric) seen.

    >>> s = PolicyState()
    >>> PolicyState.from_dict(s.to_dict()) == s
    True
    """

    tracks: dict[str, _Track] = field(default_factory=dict)

    def open_alerts(self) -> dict[tuple[AlertKind, str | None], str]:
        """The open alerts: (kind, metric) -> alert id."""
        return {_unkey(k): t.alert_id for k, t in self.tracks.items() if t.alert_id is not None}

    def to_dict(self) -> dict[str, Any]:
        return {k: t.to_dict() for k, t in self.tracks.items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PolicyState:
        return cls({k: _Track.from_dict(v) for k, v in d.items()})


class AlertPolicy:
    """Apply a :class:`PolicyConfig` to a patient's :class:`PolicyState` (mutated in place)."""

    __slots__ = ("_mask", "config")

    def __init__(self, config: PolicyConfig | None = None) -> None:
        self.config = config or PolicyConfig()
        self._mask = (1 << self.config.persist_m) - 1

    # -- public API -----------------------------------------------------------------------------
    def observe(self, state: PolicyState, patient_id: str, signal: Signal) -> list[AlertEvent]:
        """Feed one signal; return the lifecycle events it causes (often none)."""
        key = track_key(signal.kind, signal.metric)
        track = state.tracks.get(key)
        if track is None:
            if signal.level is not Level.ABNORMAL:
                return []  # nothing to remember: keeps state small for always-normal metrics
            track = state.tracks[key] = _Track()
        if signal.late and track.open and not track.late:
            return []  # older data never changes a current alert
        now = _ts(signal.time)
        self._remember(track, signal, now)
        if signal.level is Level.ABNORMAL:
            if track.open:
                track.evidence = _evidence_of(signal)
                return self._worsen(track, patient_id, signal, now)
            if self._persistent(track, signal, now):
                track.evidence = _evidence_of(signal)
                return [self._raise(track, patient_id, signal, now)]
            return []
        if track.open and signal.level is Level.NORMAL and self._normals_needed(signal.kind) <= track.normals:
            why = signal.message or "back to normal"
            if track.normals > 1:
                why += f" ({track.normals} normal readings in a row)"
            event = self._resolve(track, patient_id, signal.kind, signal.metric, now, why, signal.value)
            self._forget_if_idle(state, key, track)
            return [event]
        self._forget_if_idle(state, key, track)
        return []

    def acknowledge(self, state: PolicyState, ack: Acknowledgement) -> list[AlertEvent]:
        """Record a clinician's acknowledgement or snooze of an open alert (unknown/closed: no event).

        Raises ``ValueError`` for a snooze that is not a positive number of minutes.
        """
        found = next(((k, t) for k, t in state.tracks.items() if t.alert_id == ack.alert_id), None)
        if found is None:
            return []
        key, track = found
        kind, metric = _unkey(key)
        track.acked = True
        if ack.action is AckAction.SNOOZE:
            minutes = ack.snooze_minutes if ack.snooze_minutes is not None else self.config.snooze_minutes
            if not (math.isfinite(minutes) and minutes > 0):
                raise ValueError(f"snooze_minutes: must be a positive number of minutes, got {minutes!r}")
            track.snooze_until = _ts(ack.time) + minutes * 60.0
            status, why = AlertStatus.SNOOZED, f"Snoozed for {minutes:g} minutes"
        else:
            status, why = AlertStatus.ACKNOWLEDGED, "Acknowledged"
        if ack.note:
            why += f" ({ack.note})"
        return [
            self._event(
                track, ack.patient_id, kind, metric, status, _ts(ack.time), why, actor=ack.clinician_id
            )
        ]

    def tick(self, state: PolicyState, patient_id: str, now: datetime) -> list[AlertEvent]:
        """Advance event time: snooze ends, escalation of unacknowledged alerts, time-based resolve."""
        t = _ts(now)
        cfg = self.config
        events: list[AlertEvent] = []
        for key, track in list(state.tracks.items()):
            if not track.open:
                continue
            kind, metric = _unkey(key)
            quiet = t - (track.last_abn if track.last_abn is not None else t)
            timed = cfg.resolve_after_minutes is not None and kind not in cfg.immediate_kinds
            if timed and quiet >= (cfg.resolve_after_minutes or 0.0) * 60.0:
                why = f"nothing abnormal for {quiet / 60.0:.0f} minutes"
                events.append(self._resolve(track, patient_id, kind, metric, t, why, None))
                self._forget_if_idle(state, key, track)
            elif track.snooze_until is not None and t >= track.snooze_until:
                track.snooze_until, track.acked, track.notified = None, False, t
                why = f"Snooze ended and the condition persists: {track.evidence.get('m', '')}"
                events.append(self._event(track, patient_id, kind, metric, AlertStatus.RAISED, t, why))
            elif kind in cfg.escalate_kinds and self._due_escalation(track, t):
                sev = min(track.severity + 1, int(Severity.HIGH))
                why = f"unresolved for {(t - (track.start or t)) / 60.0:.0f} minutes"
                events.append(self._escalate(track, patient_id, kind, metric, t, sev, why))
        return events

    # -- internals ------------------------------------------------------------------------------
    def _remember(self, track: _Track, signal: Signal, now: float) -> None:
        abnormal = signal.level is Level.ABNORMAL
        track.bits = ((track.bits << 1) | abnormal) & self._mask
        track.count = min(track.count + 1, self.config.persist_m)
        if signal.level is Level.NORMAL:
            track.normals += 1
            track.abn_since = None
        else:
            track.normals = 0
            track.last_abn = now if track.last_abn is None else max(track.last_abn, now)
            if abnormal and track.abn_since is None:
                track.abn_since = now

    def _persistent(self, track: _Track, signal: Signal, now: float) -> bool:
        if signal.kind in self.config.immediate_kinds:
            return True
        if track.bits.bit_count() >= self.config.persist_n:
            return True
        minutes = self.config.persist_minutes
        return minutes is not None and track.abn_since is not None and now - track.abn_since >= minutes * 60.0

    def _normals_needed(self, kind: AlertKind) -> int:
        return 1 if kind in self.config.immediate_kinds else self.config.resolve_after_normal

    def _capped(self, signal: Signal) -> int:
        sev = int(signal.severity)
        return min(sev, int(self.config.late_max_severity)) if signal.late else sev

    def _raise(self, track: _Track, patient_id: str, signal: Signal, now: float) -> AlertEvent:
        start = _dt(now)
        track.alert_id = alert_id_for(patient_id, signal.kind.value, signal.metric, start)
        track.start = track.notified = now
        track.severity = self._capped(signal)
        track.escalations, track.acked, track.snooze_until = 0, False, None
        track.late = signal.late
        why = self._why_raised(track, signal, now)
        return self._event(track, patient_id, signal.kind, signal.metric, AlertStatus.RAISED, now, why)

    def _why_raised(self, track: _Track, signal: Signal, now: float) -> str:
        if signal.kind in self.config.immediate_kinds:
            why = signal.message
        elif track.bits.bit_count() >= self.config.persist_n:
            why = f"{signal.message}; abnormal in {track.bits.bit_count()} of the last {track.count} readings"
        else:
            why = f"{signal.message}; abnormal for {(now - (track.abn_since or now)) / 60.0:.0f} minutes"
        if signal.late:
            why += " (from late-arriving data: for review, not a new emergency)"
        return why

    def _worsen(self, track: _Track, patient_id: str, signal: Signal, now: float) -> list[AlertEvent]:
        sev = self._capped(signal)
        if track.late and not signal.late:
            track.late = False  # current data confirms a condition first seen in late data
            return [
                self._escalate(
                    track, patient_id, signal.kind, signal.metric, now, sev, "confirmed by current data"
                )
            ]
        if sev > track.severity:
            return [self._escalate(track, patient_id, signal.kind, signal.metric, now, sev, "worsened")]
        return []

    def _escalate(
        self,
        track: _Track,
        patient_id: str,
        kind: AlertKind,
        metric: str | None,
        now: float,
        sev: int,
        why: str,
    ) -> AlertEvent:
        worse = sev > track.severity
        track.severity = max(track.severity, sev)
        track.notified = now
        track.escalations += 1
        if worse:  # a worse condition overrides an acknowledgement or snooze
            track.acked, track.snooze_until = False, None
        message = f"Escalated ({why}): {track.evidence.get('m', '')}"
        return self._event(track, patient_id, kind, metric, AlertStatus.ESCALATED, now, message)

    def _due_escalation(self, track: _Track, t: float) -> bool:
        cfg = self.config
        return (
            not track.acked
            and not track.late
            and track.escalations < cfg.max_escalations
            and track.notified is not None
            and t - track.notified >= cfg.escalate_after_minutes * 60.0
        )

    def _resolve(
        self,
        track: _Track,
        patient_id: str,
        kind: AlertKind,
        metric: str | None,
        now: float,
        why: str,
        value: float | None,
    ) -> AlertEvent:
        event = self._event(
            track,
            patient_id,
            kind,
            metric,
            AlertStatus.RESOLVED,
            now,
            f"Resolved: {why}",
            end=now,
            value=value,
        )
        track.alert_id = track.start = track.notified = track.snooze_until = None
        track.severity = track.escalations = 0
        track.acked = track.late = False
        track.evidence = {}
        return event

    @staticmethod
    def _forget_if_idle(state: PolicyState, key: str, track: _Track) -> None:
        if not track.open and track.bits == 0:
            del state.tracks[key]

    @staticmethod
    def _event(
        track: _Track,
        patient_id: str,
        kind: AlertKind,
        metric: str | None,
        status: AlertStatus,
        now: float,
        message: str,
        *,
        end: float | None = None,
        actor: str | None = None,
        value: float | None = None,
    ) -> AlertEvent:
        ev = track.evidence
        assert track.alert_id is not None and track.start is not None
        return AlertEvent(
            alert_id=track.alert_id,
            patient_id=patient_id,
            kind=kind,
            status=status,
            severity=Severity(track.severity),
            time=_dt(now),
            start=_dt(track.start),
            message=message,
            metric=metric,
            value=ev.get("v") if value is None else value,
            expected_low=ev.get("lo"),
            expected_high=ev.get("hi"),
            score=ev.get("sc"),
            news2_total=ev.get("n2"),
            news2_subscores=dict(ev.get("ss", {})),
            end=None if end is None else _dt(end),
            actor=actor,
            late=track.late,
        )


__all__ = [
    "CLINICAL_KINDS",
    "AlertPolicy",
    "Level",
    "PolicyConfig",
    "PolicyState",
    "Signal",
    "ignored",
    "track_key",
]
