"""The data contract: one canonical ``Reading`` and how raw values become one.

A ``Reading`` is always canonical: a known metric, the metric's canonical UCUM
unit, a timezone-aware UTC event time, and a stable ``reading_id`` used to
de-duplicate it end to end (Kafka is at-least-once; InfluxDB writes are keyed by it).

Adapters build readings with :func:`make_reading`, which converts units and
applies the catalogue's plausibility policy, and raises :class:`Rejection`
(field + reason) for input that cannot become a reading.

>>> from datetime import datetime, timezone
>>> r = make_reading(patient_id="p-001", device_id="cuff-9", metric="temperature",
...                  value=100.4, unit="[degF]", time="2024-05-01T08:00:00+01:00")
>>> r.metric, round(r.value, 1), r.unit, r.time.isoformat()
(<Metric.BODY_TEMPERATURE: 'body_temperature'>, 38.0, 'Cel', '2024-05-01T07:00:00+00:00')
>>> make_reading(patient_id="p-001", device_id="ox-1", metric="spo2", value=140, time=r.time)
Traceback (most recent call last):
...
ingest.reading.Rejection: value: 140 % is outside the possible range 0..100 % for spo2
>>> make_reading(patient_id="p-001", device_id="ox-1", metric="heart_rate", value=0, time=r.time).quality
frozenset({<Quality.IMPLAUSIBLE: 'implausible'>})
"""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

from ingest.metrics import ACVPU, CATALOGUE, Metric, metric_for_code

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}$"


class Source(StrEnum):
    """Where a reading came from."""

    WEARABLE = "wearable"
    HOME_DEVICE = "home_device"
    MANUAL = "manual"
    REPLAY = "replay"
    SIMULATOR = "simulator"


class Quality(StrEnum):
    """Quality flags. A flagged reading is stored but never teaches a baseline or enters NEWS2."""

    MOTION_ARTEFACT = "motion_artefact"
    LOW_PERFUSION = "low_perfusion"
    OFF_BODY = "off_body"
    PROBE_OFF = "probe_off"
    IMPLAUSIBLE = "implausible"
    LATE = "late"


def _json_default(value: Any) -> Any:
    """The quality flags as a sorted JSON array (the one field orjson does not write itself)."""
    if isinstance(value, frozenset):
        return sorted(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _utc(value: datetime) -> datetime:
    if value.tzinfo is UTC:
        return value
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("timezone required (e.g. 2024-05-01T08:00:00Z or +01:00)")
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_utc)]


class Rejection(ValueError):
    """Input that cannot become a reading: which field, and why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason

    @classmethod
    def from_validation_error(cls, exc: ValidationError, prefix: str = "") -> Rejection:
        """The first error of a pydantic ``ValidationError`` as a rejection with its field path."""
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err.get("loc", ())) or "body"
        return cls(f"{prefix}{loc}", err.get("msg", "invalid"))


class Reading(BaseModel):
    """One canonical measurement of one metric for one patient."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False)

    reading_id: str = Field(min_length=8, max_length=128)
    patient_id: str = Field(pattern=ID_PATTERN, description="Pseudonymous patient id, never an NHS number.")
    device_id: str = Field(pattern=ID_PATTERN)
    metric: Metric
    value: float
    unit: str
    time: UtcDatetime = Field(description="Event time: when the measurement was taken (UTC).")
    received: UtcDatetime = Field(description="When Vigil received it (UTC).")
    source: Source = Source.WEARABLE
    quality: frozenset[Quality] = frozenset()

    @field_validator("value")
    @classmethod
    def _finite(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError("must be a finite number")
        return v

    @property
    def usable(self) -> bool:
        """True when no quality flag excludes it from baselines and NEWS2."""
        return not self.quality

    def to_json(self) -> bytes:
        """Compact JSON bytes, the wire format on every Kafka topic (times as ``...Z``, flags sorted).

        >>> r = make_reading(patient_id="p-1", device_id="w-1", metric="heart_rate", value=61,
        ...                  time="2024-05-01T08:00:00+01:00", received="2024-05-01T07:00:02.5Z")
        >>> r.to_json()[-104:]
        b'"time":"2024-05-01T07:00:00Z","received":"2024-05-01T07:00:02.500000Z","source":"wearable","quality":[]}'
        """
        # the fields in declaration order are the instance dict (pinned by tests/unit/contract); orjson
        # writes the enums' values and RFC 3339 times natively, and asks _json_default for the flags
        return orjson.dumps(self.__dict__, default=_json_default, option=orjson.OPT_UTC_Z)

    def to_dict(self) -> dict[str, Any]:
        """The wire format as a dict of JSON types."""
        return orjson.loads(self.to_json())  # type: ignore[no-any-return]

    @classmethod
    def from_json(cls, data: bytes | str) -> Reading:
        """Parse the wire format (validated)."""
        return cls.model_validate_json(data)


def derive_reading_id(patient_id: str, metric: str, time: datetime, value: float) -> str:
    """A deterministic id from what makes a reading itself: patient, metric, event time and value.

    >>> derive_reading_id("p1", "heart_rate", datetime(2024, 1, 1, tzinfo=UTC), 72.0)
    '383c0af76497ecea'
    """
    global _last_id_time
    last, text = _last_id_time
    if time != last or time.tzinfo is not UTC:
        text = time.astimezone(UTC).isoformat()
        _last_id_time = (time, text)
    return reading_id_for_iso(patient_id, metric, text, value)


_last_id_time: tuple[datetime, str] = (datetime(1970, 1, 1, tzinfo=UTC), "1970-01-01T00:00:00+00:00")
"""The last UTC time :func:`derive_reading_id` formatted: readings often come several to a time."""


def reading_id_for_iso(patient_id: str, metric: str, utc_isoformat: str, value: float) -> str:
    """:func:`derive_reading_id` for a UTC time already formatted by ``datetime.isoformat()`` (bulk writers).

    >>> reading_id_for_iso("p1", "heart_rate", "2024-01-01T00:00:00+00:00", 72.0)
    '383c0af76497ecea'
    """
    key = f"{patient_id}|{metric}|{utc_isoformat}|{value:.6g}"
    return hashlib.blake2b(key.encode(), digest_size=8).hexdigest()


def parse_time(
    value: datetime | str | int | float, *, field: str = "time", assume_utc: bool = False
) -> datetime:
    """Parse an event time; a naive time is rejected unless ``assume_utc`` says so explicitly.

    Numbers are Unix epoch seconds (or milliseconds when larger than 1e11).
    """
    if isinstance(value, bool):
        raise Rejection(field, "must be an ISO 8601 date-time or epoch seconds")
    if isinstance(value, int | float):
        if not -1e300 < value < 1e300:  # not math.isfinite: it overflows on huge ints
            raise Rejection(field, "must be finite")
        seconds = value / 1000.0 if abs(value) > 1e11 else float(value)
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise Rejection(field, f"epoch {value} out of range") from exc
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            dt = datetime.fromisoformat(text)
        except ValueError as exc:
            raise Rejection(field, f"{value!r} is not an ISO 8601 date-time") from exc
    elif isinstance(value, datetime):
        dt = value
    else:
        raise Rejection(field, "must be an ISO 8601 date-time or epoch seconds")
    if dt.tzinfo is None or dt.utcoffset() is None:
        if not assume_utc:
            raise Rejection(field, "timezone required (e.g. 2024-05-01T08:00:00Z or +01:00)")
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def resolve_metric(code: str | Metric, *, field: str = "metric") -> Metric:
    """The metric for a canonical name, alias, LOINC or MDC code, or a rejection."""
    if isinstance(code, Metric):
        return code
    if not isinstance(code, str) or not code.strip():
        raise Rejection(field, "must be a non-empty metric name or code")
    metric = metric_for_code(code)
    if metric is None:
        raise Rejection(field, f"unknown metric or code {code!r}")
    return metric


def make_reading(
    *,
    patient_id: str,
    device_id: str,
    metric: str | Metric,
    value: Any,
    time: datetime | str | int | float,
    unit: str | None = None,
    received: datetime | None = None,
    source: Source | str = Source.WEARABLE,
    quality: frozenset[Quality] | list[str] | tuple[str, ...] = frozenset(),
    reading_id: str | None = None,
    assume_utc: bool = False,
) -> Reading:
    """Build a canonical reading: resolve the metric, convert the unit, check plausibility.

    Raises :class:`Rejection` naming the field and the reason.
    """
    spec = CATALOGUE[resolve_metric(metric)]
    if spec.metric is Metric.CONSCIOUSNESS and isinstance(value, str) and value.strip().upper() in ACVPU:
        value = ACVPU[value.strip().upper()]
    if isinstance(value, bool):
        value = 1.0 if value else 0.0
    if not isinstance(value, int | float):
        raise Rejection("value", f"must be a number, got {type(value).__name__}")
    if not -1e300 < value < 1e300:  # not math.isfinite: it overflows on huge ints
        raise Rejection("value", "must be a finite number")
    try:
        canonical = spec.to_canonical(value, unit)
    except ValueError as exc:
        raise Rejection("unit", str(exc)) from exc
    lo, hi = spec.limits
    if not lo <= canonical <= hi:
        raise Rejection(
            "value",
            f"{canonical:g} {spec.unit} is outside the possible range {lo:g}..{hi:g} {spec.unit} "
            f"for {spec.metric.value}",
        )
    if spec.integer and canonical != int(canonical):
        raise Rejection("value", f"{spec.metric.value} must be a whole number, got {canonical:g}")
    try:
        flags = frozenset(Quality(q) for q in quality)
    except ValueError as exc:
        raise Rejection(
            "quality", f"unknown flag ({exc}); known: {', '.join(q.value for q in Quality)}"
        ) from exc
    plo, phi = spec.plausible
    if not plo <= canonical <= phi:
        flags = flags | {Quality.IMPLAUSIBLE}
    event_time = parse_time(time, assume_utc=assume_utc)
    try:
        src = Source(source)
    except ValueError as exc:
        raise Rejection("source", f"unknown source {source!r}") from exc
    try:
        return Reading(
            reading_id=reading_id or derive_reading_id(patient_id, spec.metric.value, event_time, canonical),
            patient_id=patient_id,
            device_id=device_id,
            metric=spec.metric,
            value=canonical,
            unit=spec.unit,
            time=event_time,
            received=received or datetime.now(UTC),
            source=src,
            quality=flags,
        )
    except ValidationError as exc:
        raise Rejection.from_validation_error(exc) from exc
