"""Build InfluxDB points (see :mod:`streams.schema`) from readings, NEWS2 scores, alerts and acks.

>>> from datetime import UTC, datetime
>>> from ingest.reading import make_reading
>>> r = make_reading(patient_id="p-1", device_id="ox-1", metric="spo2", value=95, reading_id="r-00000001",
...                  time=datetime(2024, 5, 1, 8, tzinfo=UTC), received=datetime(2024, 5, 1, 8, tzinfo=UTC))
>>> line = reading_point(r).to_line_protocol()
>>> line.split(" ")[0]
'reading,device_id=ox-1,metric=spo2,patient_id=p-1'
>>> ',value=95' in line, line.split(" ")[-1][:13]
(True, '1714550400000')
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache
from typing import Any, Protocol

from influxdb_client import Point

from detectors.events import Acknowledgement, AlertEvent, ScoredReading
from ingest.episodes import PatientProfile
from ingest.reading import Reading, Source
from streams import schema as s


class News2Like(Protocol):
    """What :func:`news2_point` needs of ``detectors.news2.News2Score``."""

    @property
    def total(self) -> int: ...
    @property
    def band(self) -> Any: ...
    @property
    def subscores(self) -> dict[str, int]: ...
    @property
    def partial(self) -> bool: ...


def reading_point(reading: Reading, scored: ScoredReading | None = None) -> Point:
    """A ``reading`` point; with ``scored`` it also carries the score and the expected range."""
    p = (
        Point(s.READING)
        .tag(s.TAG_PATIENT, reading.patient_id)
        .tag(s.TAG_METRIC, reading.metric.value)
        .tag(s.TAG_DEVICE, reading.device_id)
        .field(s.F_VALUE, float(reading.value))
        .field(s.F_READING_ID, reading.reading_id)
        .field(s.F_QUALITY, ",".join(sorted(q.value for q in reading.quality)))
        .field(s.F_USABLE, reading.usable)
        .field(s.F_SOURCE, reading.source.value)
        .time(s.ns_time(reading.time, reading.reading_id))
    )
    if scored is not None:
        p.field(s.F_SCORE, float(scored.score)).field(s.F_WARM, scored.warm)
        _optional(p, s.F_EXPECTED_LOW, scored.expected_low)
        _optional(p, s.F_EXPECTED_HIGH, scored.expected_high)
    return p


def news2_point(patient_id: str, time: datetime, record_id: str, news2: News2Like) -> Point:
    """A ``news2`` point at the event time of the reading that produced it."""
    p = (
        Point(s.NEWS2)
        .tag(s.TAG_PATIENT, patient_id)
        .field(s.F_TOTAL, int(news2.total))
        .field(s.F_BAND, str(getattr(news2.band, "value", news2.band)))
        .field(s.F_PARTIAL, bool(news2.partial))
        .time(s.ns_time(time, record_id))
    )
    for name, sub in sorted(news2.subscores.items()):
        p.field(s.F_SUBSCORE_PREFIX + name, int(sub))
    return p


def ack_url(ack_base_url: str, alert_id: str) -> str:
    """The link a clinician follows to acknowledge an alert.

    >>> ack_url("https://vigil.example/", "al-1")
    'https://vigil.example/v1/alerts/al-1/ack'
    """
    return f"{ack_base_url.rstrip('/')}/v1/alerts/{alert_id}/ack"


def alert_point(event: AlertEvent, ack_base_url: str) -> Point:
    """An ``alert`` point for one alert transition."""
    p = (
        Point(s.ALERT)
        .tag(s.TAG_PATIENT, event.patient_id)
        .tag(s.TAG_KIND, event.kind.value)
        .tag(s.TAG_SEVERITY, event.severity.label)
        .tag(s.TAG_STATUS, event.status.value)
        .field(s.F_ALERT_ID, event.alert_id)
        .field(s.F_ALERT_METRIC, event.metric or "")
        .field(s.F_MESSAGE, event.message)
        .field(s.F_SEVERITY_LEVEL, int(event.severity))
        .field(s.F_LATE, event.late)
        .field(s.F_ACK_URL, ack_url(ack_base_url, event.alert_id))
        .field(s.F_START, int(event.start.timestamp() * 1000))
        .time(s.ns_time(event.time, f"{event.alert_id}|{event.status.value}"))
    )
    for name, value in (
        (s.F_VALUE, event.value),
        (s.F_EXPECTED_LOW, event.expected_low),
        (s.F_EXPECTED_HIGH, event.expected_high),
        (s.F_SCORE, event.score),
    ):
        _optional(p, name, value)
    if event.news2_total is not None:
        p.field(s.F_NEWS2_TOTAL, int(event.news2_total))
    if event.actor:
        p.field(s.F_ACTOR, event.actor)
    return p


def ack_point(ack: Acknowledgement) -> Point:
    """An ``ack`` audit point: who acknowledged or snoozed which alert, when."""
    p = (
        Point(s.ACK)
        .tag(s.TAG_PATIENT, ack.patient_id)
        .tag(s.TAG_ACTION, ack.action.value)
        .field(s.F_ALERT_ID, ack.alert_id)
        .field(s.F_CLINICIAN, ack.clinician_id)
        .time(s.ns_time(ack.time, f"{ack.alert_id}|{ack.clinician_id}|{ack.action.value}"))
    )
    _optional(p, s.F_SNOOZE_MINUTES, ack.snooze_minutes)
    if ack.note:
        p.field(s.F_NOTE, ack.note)
    return p


def profile_point(profile: PatientProfile, time: datetime, actor: str) -> Point:
    """A ``profile`` audit point: who set the patient's SpO2 scale (and conditions), when.

    ``time`` is the profile record's Kafka timestamp, so a replayed record overwrites its own point.
    """
    return (
        Point(s.PROFILE)
        .tag(s.TAG_PATIENT, profile.patient_id)
        .field(s.F_SPO2_SCALE, profile.spo2_scale)
        .field(s.F_CONDITIONS, ",".join(profile.conditions))
        .field(s.F_ACTOR, actor)
        .time(s.ns_time(time, f"profile|{profile.patient_id}"))
    )


def _optional(p: Point, name: str, value: float | None) -> None:
    if value is not None:
        p.field(name, float(value))


# -- line protocol without Point objects (the per-reading hot path) ------------------------------------
# Same bytes as ``reading_point(...).to_line_protocol()`` / ``news2_point(...)`` (checked in
# tests/unit/streams/test_detect_stage.py and test_points.py), at a fraction of the cost: no Point, no
# per-field sort, the series key of a (device, metric, patient) and the fields of a NEWS2 score built once.
_TAG_ESCAPE = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ ", "\n": r"\n", "\t": r"\t", "\r": r"\r"})
_STR_ESCAPE = str.maketrans({'"': r"\"", "\\": r"\\"})
_SERIES_CACHE = 1 << 16
"""Series keys (``reading,device_id=..,metric=..,patient_id=..``) and NEWS2 field sets remembered."""


def _tag(value: str) -> str:
    v = value.translate(_TAG_ESCAPE)
    return v + " " if v.endswith("\\") else v


def _str(value: str) -> str:
    return '"' + value.translate(_STR_ESCAPE) + '"'


def _float(value: float | None) -> str | None:
    if value is None:
        return None
    v = float(value)
    if not math.isfinite(v):
        return None
    text = repr(v)
    return text[:-2] if text.endswith(".0") else text


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _series(measurement: str, tags: Iterable[tuple[str, str]]) -> str:
    return measurement + "".join(f",{k}={_tag(v)}" for k, v in tags if v)


def _fields(fields: Iterable[tuple[str, str | None]]) -> str:
    return ",".join(f"{k}={v}" for k, v in fields if v is not None)


@lru_cache(maxsize=_SERIES_CACHE)
def _reading_series(device_id: str, metric: str, patient_id: str) -> str:
    tags = ((s.TAG_DEVICE, device_id), (s.TAG_METRIC, metric), (s.TAG_PATIENT, patient_id))
    return _series(s.READING, tags)


@lru_cache(maxsize=_SERIES_CACHE)
def _news2_series(patient_id: str) -> str:
    return _series(s.NEWS2, ((s.TAG_PATIENT, patient_id),))


@lru_cache(maxsize=256)
def _quality(flags: frozenset[Any]) -> str:
    return _str(",".join(sorted(q.value for q in flags)))


_SOURCE = {src: _str(src.value) for src in Source}


def reading_line(reading: Reading, scored: ScoredReading | None = None, t_ns: int | None = None) -> str:
    """:func:`reading_point` as line protocol (``t_ns``: the point's time if already computed).

    >>> from datetime import UTC, datetime
    >>> from ingest.reading import make_reading
    >>> t = datetime(2024, 5, 1, 8, tzinfo=UTC)
    >>> r = make_reading(patient_id="p-1", device_id="ox-1", metric="spo2", value=95, reading_id="r-00000001",
    ...                  time=t, received=t)
    >>> reading_line(r) == reading_point(r).to_line_protocol()
    True
    """
    if t_ns is None:
        t_ns = s.ns_time(reading.time, reading.reading_id)
    series = _reading_series(reading.device_id, reading.metric.value, reading.patient_id)
    common = f"{s.F_QUALITY}={_quality(reading.quality)},{s.F_READING_ID}={_str(reading.reading_id)}"
    tail = (
        f"{s.F_SOURCE}={_SOURCE[reading.source]},{s.F_USABLE}={_bool(not reading.quality)},"
        f"{s.F_VALUE}={_float(reading.value)}"
    )
    if scored is None:
        return f"{series} {common},{tail} {t_ns}"
    hi, lo, score = _float(scored.expected_high), _float(scored.expected_low), _float(scored.score)
    head = (f"{s.F_EXPECTED_HIGH}={hi}," if hi is not None else "") + (
        f"{s.F_EXPECTED_LOW}={lo}," if lo is not None else ""
    )
    middle = f",{s.F_SCORE}={score}" if score is not None else ""
    return f"{series} {head}{common}{middle},{tail},{s.F_WARM}={_bool(scored.warm)} {t_ns}"


@lru_cache(maxsize=_SERIES_CACHE)
def _news2_fields(band: str, partial: bool, subscores: tuple[tuple[str, int], ...], total: int) -> str:
    fields: list[tuple[str, str | None]] = [(s.F_BAND, _str(band)), (s.F_PARTIAL, _bool(partial))]
    fields += [(s.F_SUBSCORE_PREFIX + name, f"{int(sub)}i") for name, sub in subscores]
    fields.append((s.F_TOTAL, f"{int(total)}i"))
    fields.sort()
    return _fields(fields)


def news2_line(
    patient_id: str, time: datetime, record_id: str, news2: News2Like, t_ns: int | None = None
) -> str:
    """:func:`news2_point` as line protocol (``t_ns``: the point's time if already computed)."""
    fields = _news2_fields(
        str(getattr(news2.band, "value", news2.band)),
        bool(news2.partial),
        tuple(news2.subscores.items()),
        int(news2.total),
    )
    if t_ns is None:
        t_ns = s.ns_time(time, record_id)
    return f"{_news2_series(patient_id)} {fields} {t_ns}"
