"""Open mHealth data points (heart-rate, blood-pressure, body-temperature, oxygen-saturation,
step-count, respiratory-rate, body-weight, sleep-duration) to readings.

A data point is ``{"header": {"schema_id": {"namespace": "omh", "name": ..., "version": ...}, ...},
"body": {...}}``; a list of data points is a batch. The time is the body's
``effective_time_frame``: its ``date_time``, or the ``end_date_time`` of its
``time_interval`` (else the start). Units are Open mHealth's (``beats/min``, ``mmHg``,
``F``, ``steps``, ...), mapped to UCUM before conversion.

>>> point = {"header": {"schema_id": {"namespace": "omh", "name": "blood-pressure", "version": "3.1"}},
...          "body": {"systolic_blood_pressure": {"value": 16, "unit": "kPa"},
...                   "diastolic_blood_pressure": {"value": 80, "unit": "mmHg"},
...                   "effective_time_frame": {"date_time": "2024-05-01T07:25:00-07:00"}}}
>>> res = from_openmhealth(point, device_id="cuff-1", patient_id="p-001")
>>> [(r.metric.value, round(r.value), r.time.isoformat()) for r in res.accepted]
[('systolic_bp', 120, '2024-05-01T14:25:00+00:00'), ('diastolic_bp', 80, '2024-05-01T14:25:00+00:00')]
"""

from __future__ import annotations

from typing import Any, Unpack

from ingest.adapters.origin import Origin, OriginArgs
from ingest.adapters.result import WHOLE_PAYLOAD, AdapterResult, join_location
from ingest.metrics import Metric
from ingest.reading import Rejection

SCHEMAS: dict[str, tuple[tuple[str, Metric], ...]] = {
    "heart-rate": (("heart_rate", Metric.HEART_RATE),),
    "blood-pressure": (
        ("systolic_blood_pressure", Metric.SYSTOLIC_BP),
        ("diastolic_blood_pressure", Metric.DIASTOLIC_BP),
    ),
    "body-temperature": (("body_temperature", Metric.BODY_TEMPERATURE),),
    "oxygen-saturation": (("oxygen_saturation", Metric.SPO2),),
    "step-count": (("step_count", Metric.STEPS),),
    "respiratory-rate": (("respiratory_rate", Metric.RESPIRATORY_RATE),),
    "body-weight": (("body_weight", Metric.BODY_WEIGHT),),
    "sleep-duration": (("sleep_duration", Metric.SLEEP_DURATION),),
}
"""Schema name -> (body property, metric) pairs."""

OMH_UNITS = {
    "beats/min": "/min",
    "breaths/min": "/min",
    "mmHg": "mm[Hg]",
    "kPa": "kPa",
    "F": "[degF]",
    "C": "Cel",
    "K": "K",
    "%": "%",
    "steps": "{steps}",
    "kg": "kg",
    "g": "g",
    "lb": "[lb_av]",
    "h": "h",
    "min": "min",
    "s": "s",
    "sec": "s",
}
"""Open mHealth unit values -> UCUM."""


def is_openmhealth(obj: Any) -> bool:
    """True when ``obj`` looks like an Open mHealth data point (or a list starting with one)."""
    if isinstance(obj, list) and obj:
        obj = obj[0]
    return isinstance(obj, dict) and isinstance(obj.get("header"), dict) and "body" in obj


def from_openmhealth(obj: Any, **origin: Unpack[OriginArgs]) -> AdapterResult:
    """Readings from one decoded Open mHealth data point or a list of them; never raises for bad input."""
    return openmhealth_items(obj, Origin.of(**origin))


def openmhealth_items(obj: Any, origin: Origin) -> AdapterResult:
    """Like :func:`from_openmhealth` with an already built :class:`Origin`."""
    result = AdapterResult()
    if isinstance(obj, dict):
        _add_point(obj, "", origin, result)
    elif isinstance(obj, list):
        for i, point in enumerate(obj):
            _add_point(point, f"[{i}]", origin, result)
    else:
        result.reject_payload(WHOLE_PAYLOAD, "must be an Open mHealth data point or a list of them", obj)
    return result


def _add_point(point: Any, location: str, origin: Origin, result: AdapterResult) -> None:
    try:
        if not isinstance(point, dict) or not isinstance(point.get("header"), dict):
            raise Rejection("header", "an Open mHealth data point needs a header object")
        schema = point["header"].get("schema_id")
        name = schema.get("name") if isinstance(schema, dict) else None
        if name not in SCHEMAS:
            raise Rejection("header.schema_id.name", f"unsupported schema (supported: {', '.join(SCHEMAS)})")
        body = point.get("body")
        if not isinstance(body, dict):
            raise Rejection("body", "must be an object")
        when, time_field = _time(body.get("effective_time_frame"))
        patient_id = origin.patient(point["header"].get("user_id"), "header.user_id")
        device_id = (
            origin.device(None, "header.acquisition_provenance") if origin.device_id else _provenance(point)
        )
    except Rejection as rej:
        result.reject(join_location(location, rej.field), rej, point)
        return
    for prop, metric in SCHEMAS[name]:
        try:
            value, unit = _unit_value(body.get(prop), prop)
            reading = origin.reading(
                patient_id=patient_id, device_id=device_id, metric=metric, value=value, unit=unit, time=when
            )
        except Rejection as rej:
            field = {"value": f"{prop}.value", "unit": f"{prop}.unit", "time": time_field}.get(
                rej.field, rej.field
            )
            result.reject(join_location(location, f"body.{field}"), Rejection(field, rej.reason), point)
        else:
            result.accepted.append(reading)


def _provenance(point: dict[str, Any]) -> str:
    prov = point["header"].get("acquisition_provenance")
    name = prov.get("source_name") if isinstance(prov, dict) else None
    if not isinstance(name, str) or not name:
        raise Rejection("header.acquisition_provenance.source_name", "a device id is required")
    return name


def _unit_value(item: Any, prop: str) -> tuple[Any, str | None]:
    if isinstance(item, int | float) and not isinstance(item, bool):  # step-count 1.x/2.0: a bare number
        return item, None
    if not isinstance(item, dict) or "value" not in item:
        raise Rejection(prop, "must be a {value, unit} object")
    unit = item.get("unit")
    if unit is not None and not isinstance(unit, str):
        raise Rejection(f"{prop}.unit", "must be a string")
    return item["value"], OMH_UNITS.get(unit, unit) if unit is not None else None


def _time(frame: Any) -> tuple[Any, str]:
    field = "effective_time_frame"
    if not isinstance(frame, dict):
        raise Rejection(field, "is required (date_time or time_interval)")
    if "date_time" in frame:
        return frame["date_time"], f"{field}.date_time"
    interval = frame.get("time_interval")
    if isinstance(interval, dict):
        for key in ("end_date_time", "start_date_time"):
            if key in interval:
                return interval[key], f"{field}.time_interval.{key}"
    raise Rejection(field, "needs date_time, or time_interval with end_date_time or start_date_time")
