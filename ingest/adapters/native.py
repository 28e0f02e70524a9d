"""Vigil's native JSON: one reading, a list of readings, or ``{"readings": [...]}``.

Each item has ``metric`` (name, alias, LOINC or MDC code), ``value``, ``time``
(ISO 8601 with offset, or epoch seconds/milliseconds) and optionally ``unit`` (UCUM;
omitted means the metric's canonical unit), ``quality`` (list of flags),
``patient_id`` and ``device_id`` (must match the authenticated device when given).
A canonical ``Reading.to_json()`` record is valid input too: its ``source`` and
``received`` are kept when there is no authenticated device (re-validation of a
topic or a file), and ignored otherwise (the gateway stamps its own).

>>> from datetime import UTC, datetime
>>> res = from_native_json(
...     {"readings": [{"metric": "heart_rate", "value": 72, "time": "2024-05-01T08:00:00+01:00"},
...                   {"metric": "spo2", "value": 140, "time": 1714546800}]},
...     device_id="watch-1", patient_id="p-001", received=datetime(2024, 5, 1, 8, tzinfo=UTC))
>>> [(r.metric.value, r.value, r.time.isoformat()) for r in res.accepted]
[('heart_rate', 72.0, '2024-05-01T07:00:00+00:00')]
>>> res.rejected[0].location, res.rejected[0].reason
('readings[1].value', '140 % is outside the possible range 0..100 % for spo2')
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Unpack

from ingest.adapters.origin import Origin, OriginArgs
from ingest.adapters.result import WHOLE_PAYLOAD, AdapterResult, join_location
from ingest.reading import Rejection, Source, parse_time

ITEM_FIELDS = frozenset(
    {
        "metric",
        "value",
        "unit",
        "time",
        "quality",
        "patient_id",
        "device_id",
        "reading_id",
        "source",
        "received",
    }
)
"""The keys a native reading may carry (anything else is rejected as a likely typo)."""

MAX_ITEMS = 100_000


def from_native_json(obj: Any, **origin: Unpack[OriginArgs]) -> AdapterResult:
    """Readings from decoded native JSON (a dict or a list); never raises for bad input."""
    return native_items(obj, Origin.of(**origin))


def native_items(obj: Any, origin: Origin) -> AdapterResult:
    """Like :func:`from_native_json` with an already built :class:`Origin`."""
    result = AdapterResult()
    if isinstance(obj, dict) and "readings" in obj:
        items, prefix = obj["readings"], "readings"
        extra = set(obj) - {"readings"}
        if extra:
            return result.reject_payload(sorted(extra)[0], "unknown key next to 'readings'", obj)
        if not isinstance(items, list):
            return result.reject_payload("readings", "must be a list of readings", obj)
    elif isinstance(obj, list):
        items, prefix = obj, ""
    elif isinstance(obj, dict):
        add_native_item(obj, "", origin, result)
        return result
    else:
        return result.reject_payload(
            WHOLE_PAYLOAD, "must be a reading object, a list, or {'readings': [...]}", obj
        )
    if len(items) > MAX_ITEMS:
        return result.reject_payload(
            prefix or WHOLE_PAYLOAD, f"at most {MAX_ITEMS} readings per payload", None
        )
    for i, item in enumerate(items):
        add_native_item(item, f"{prefix}[{i}]", origin, result)
    return result


def add_native_item(item: Any, location: str, origin: Origin, result: AdapterResult) -> None:
    """Validate one native item and add it to ``result`` as a reading or a located rejection."""
    try:
        if not isinstance(item, dict):
            raise Rejection("", "must be a JSON object")
        unknown = item.keys() - ITEM_FIELDS
        if unknown:
            raise Rejection(str(sorted(unknown)[0]), f"unknown key (known: {', '.join(sorted(ITEM_FIELDS))})")
        for required in ("metric", "value", "time"):
            if required not in item:
                raise Rejection(required, "is required")
        quality = item.get("quality", ())
        if not isinstance(quality, list | tuple) or not all(isinstance(q, str) for q in quality):
            raise Rejection("quality", "must be a list of flag names")
        unit = item.get("unit")
        if unit is not None and not isinstance(unit, str):
            raise Rejection("unit", "must be a UCUM unit string")
        reading_id = item.get("reading_id")
        if reading_id is not None and not isinstance(reading_id, str):
            raise Rejection("reading_id", "must be a string")
        if origin.patient_id is None and ("source" in item or "received" in item):
            origin = _recorded_origin(item, origin)
        reading = origin.reading(
            patient_id=origin.patient(item.get("patient_id"), "patient_id"),
            device_id=origin.device(item.get("device_id"), "device_id"),
            metric=item["metric"],
            value=item["value"],
            unit=unit,
            time=item["time"],
            quality=quality,
            reading_id=reading_id,
        )
    except Rejection as rej:
        result.reject(join_location(location, rej.field), rej, item)
    else:
        result.accepted.append(reading)


def _recorded_origin(item: dict[str, Any], origin: Origin) -> Origin:
    """The origin a recorded canonical reading carries (its own source and arrival time)."""
    try:
        source = Source(item.get("source", origin.source))
    except ValueError as exc:
        raise Rejection("source", f"unknown source {item.get('source')!r}") from exc
    received = parse_time(item["received"], field="received") if "received" in item else origin.received
    return replace(origin, source=source, received=received)
