"""What the detectors produce: scored readings, signals, alerts and acknowledgements.

These small frozen records are the interface between the detector library and
everything that carries its results (the Faust worker, the embedded demo and
replay, the InfluxDB and Grafana sinks). Each serialises to a plain ``dict``
(``to_dict``) and back (``from_dict``) for the wire.

>>> s = Severity.HIGH
>>> s > Severity.MEDIUM
True
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from enum import IntEnum, StrEnum
from typing import Any

import orjson

from ingest.reading import Reading


class Severity(IntEnum):
    """Alert severity, ordered. Routing: HIGH pages the on-call clinician, MEDIUM is urgent review."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, value: str | int) -> Severity:
        return cls(value) if isinstance(value, int) else cls[value.upper()]


class AlertKind(StrEnum):
    """What kind of condition an alert is about. Alerts are deduplicated per (patient, kind, metric)."""

    NEWS2 = "news2"  # aggregate NEWS2 band medium/high, or a single parameter scoring 3
    HARD_LIMIT = "hard_limit"  # a clinical hard limit (e.g. SpO2 < 88 % on scale 1, HR > 140)
    ANOMALY = "anomaly"  # one metric far from the patient's own learned baseline
    MULTIVARIATE = "multivariate"  # combined deterioration no single vital shows
    BEHAVIOUR = "behaviour"  # multi-day change in sleep, activity or HRV
    DATA_GAP = "data_gap"  # no data for longer than the device cadence allows
    FLATLINE = "flatline"  # a sensor repeating the same value
    IMPLAUSIBLE = "implausible"  # physiologically impossible jumps / artefacts
    WEAR_TIME = "wear_time"  # too little wear time in a day


class AlertStatus(StrEnum):
    """Lifecycle transitions, each emitted as an :class:`AlertEvent`."""

    RAISED = "raised"
    ESCALATED = "escalated"
    ACKNOWLEDGED = "acknowledged"
    SNOOZED = "snoozed"
    RESOLVED = "resolved"


def alert_id_for(patient_id: str, kind: str, metric: str | None, start: datetime) -> str:
    """A deterministic alert id: the same input stream always gives the same ids.

    >>> alert_id_for("p1", "news2", None, datetime(2024, 1, 1, tzinfo=UTC))
    'al-cb0d7538f55b33fb'
    """
    key = f"{patient_id}|{kind}|{metric or ''}|{start.astimezone(UTC).isoformat()}"
    return "al-" + hashlib.blake2b(key.encode(), digest_size=8).hexdigest()


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _dt(s: str | None) -> datetime | None:
    return None if s is None else datetime.fromisoformat(s.replace("Z", "+00:00"))


@dataclass(frozen=True, slots=True)
class ScoredReading:
    """A reading with its anomaly score in [0, 1] and the patient's expected range for it."""

    reading: Reading
    score: float
    expected_low: float | None
    expected_high: float | None
    warm: bool  # False during warm-up: the baseline is not trusted yet

    def to_dict(self) -> dict[str, Any]:
        return {
            "reading": self.reading.to_dict(),
            "score": self.score,
            "expected_low": self.expected_low,
            "expected_high": self.expected_high,
            "warm": self.warm,
        }

    def to_json(self) -> bytes:
        """:meth:`to_dict` as compact JSON bytes (the scores topic's record).

        >>> from ingest.reading import make_reading
        >>> r = make_reading(patient_id="p-1", device_id="w-1", metric="heart_rate", value=61,
        ...                  time="2024-05-01T08:00:00Z")
        >>> s = ScoredReading(r, 0.25, 55.0, 80.0, True)
        >>> orjson.loads(s.to_json()) == s.to_dict()
        True
        """
        return orjson.dumps(
            {
                "reading": orjson.Fragment(self.reading.to_json()),
                "score": self.score,
                "expected_low": self.expected_low,
                "expected_high": self.expected_high,
                "warm": self.warm,
            }
        )

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ScoredReading:
        return cls(
            reading=Reading.model_validate(d["reading"]),
            score=d["score"],
            expected_low=d["expected_low"],
            expected_high=d["expected_high"],
            warm=d["warm"],
        )


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """One transition of one alert, explaining itself.

    ``message`` says in words why it fired (or changed); the other fields carry the
    evidence: metric, value, the patient's expected range, score and NEWS2 sub-scores.
    """

    alert_id: str
    patient_id: str
    kind: AlertKind
    status: AlertStatus
    severity: Severity
    time: datetime  # event time of this transition
    start: datetime  # event time the alert was first raised
    message: str
    metric: str | None = None
    value: float | None = None
    expected_low: float | None = None
    expected_high: float | None = None
    score: float | None = None
    news2_total: int | None = None
    news2_subscores: dict[str, int] = field(default_factory=dict)
    end: datetime | None = None  # set when resolved
    actor: str | None = None  # clinician id for acknowledged/snoozed
    late: bool = False  # raised from data that arrived late (not a new emergency)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready fields (``dataclasses.asdict`` deep-copies every value: 4x slower here)."""
        d = {name: getattr(self, name) for name in _ALERT_FIELDS}
        d["news2_subscores"] = dict(self.news2_subscores)
        d["kind"] = self.kind.value
        d["status"] = self.status.value
        d["severity"] = self.severity.label
        d["time"] = _iso(self.time)
        d["start"] = _iso(self.start)
        d["end"] = _iso(self.end)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AlertEvent:
        d = dict(d)
        d["kind"] = AlertKind(d["kind"])
        d["status"] = AlertStatus(d["status"])
        d["severity"] = Severity.parse(d["severity"])
        d["time"] = _dt(d["time"])
        d["start"] = _dt(d["start"])
        d["end"] = _dt(d.get("end"))
        return cls(**d)


_ALERT_FIELDS = tuple(f.name for f in fields(AlertEvent))


class AckAction(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    SNOOZE = "snooze"


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    """A clinician acknowledging or snoozing an alert (recorded as an audit trail)."""

    alert_id: str
    patient_id: str
    clinician_id: str
    action: AckAction
    time: datetime
    snooze_minutes: float | None = None
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["action"] = self.action.value
        d["time"] = _iso(self.time)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Acknowledgement:
        d = dict(d)
        d["action"] = AckAction(d["action"])
        d["time"] = _dt(d["time"])
        return cls(**d)
