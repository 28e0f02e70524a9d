"""FHIR R4 ``Observation`` and ``Bundle`` to readings, validated with ``fhir.resources``.

FHIR R4 is read with ``fhir.resources.R4B`` (R4B is wire-compatible with R4 for
Observation and Bundle; ``fhir.resources``' default package is R5).

Mapping rules:

* **code**: the first coding with a known LOINC (``http://loinc.org``) or IEEE 11073
  MDC (``urn:iso:std:iso:11073:10101``) code. Panels (e.g. blood pressure 85354-9)
  fan out to one reading per ``component``.
* **value**: ``valueQuantity`` (the UCUM ``code`` when its system is UCUM or absent,
  else the ``unit`` text), or ``valueInteger``.
* **time**: ``effectiveDateTime`` / ``effectiveInstant`` with their offset converted
  to UTC; ``effectivePeriod`` uses its ``end`` (when the measurement was complete),
  else its ``start``. A **date-only** value (a daily step count or sleep duration)
  maps to **12:00 UTC** of that date: noon keeps the calendar date the same in every
  time zone from UTC-11 to UTC+11, so daily aggregates land on the day the device
  reported. Year or year-month precision is rejected.
* **status**: final, amended, corrected and preliminary are accepted; others
  (registered, cancelled, entered-in-error, unknown) are rejected.
* **patient**: ``subject`` must reference a ``Patient`` that is the authenticated
  device's patient (or, without authentication, is used as the patient id).

>>> obs = {"resourceType": "Observation", "status": "final",
...        "code": {"coding": [{"system": "http://loinc.org", "code": "8310-5"}]},
...        "subject": {"reference": "Patient/p-001"}, "effectiveDateTime": "2024-05-01T09:00:00+01:00",
...        "valueQuantity": {"value": 100.4, "unit": "degF", "system": "http://unitsofmeasure.org",
...                          "code": "[degF]"}}
>>> r = from_fhir(obs, device_id="therm-1", patient_id="p-001").accepted[0]
>>> r.metric.value, round(r.value, 2), r.unit, r.time.isoformat()
('body_temperature', 38.0, 'Cel', '2024-05-01T08:00:00+00:00')
>>> bad = dict(obs, valueQuantity={"value": 38, "unit": "furlongs"})
>>> from_fhir(bad, device_id="therm-1", patient_id="p-001").rejected[0].location
'valueQuantity.unit'
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any, Unpack

from fhir.resources.R4B.bundle import Bundle, BundleEntry
from fhir.resources.R4B.observation import Observation
from pydantic import ValidationError

from ingest.adapters.origin import Origin, OriginArgs
from ingest.adapters.result import WHOLE_PAYLOAD, AdapterResult, join_location
from ingest.metrics import BLOOD_PRESSURE_PANEL_LOINC, Metric, metric_for_code
from ingest.reading import Rejection

LOINC_SYSTEM = "http://loinc.org"
MDC_SYSTEM = "urn:iso:std:iso:11073:10101"
UCUM_SYSTEM = "http://unitsofmeasure.org"
CODE_SYSTEMS = frozenset({LOINC_SYSTEM, MDC_SYSTEM})
ACCEPTED_STATUSES = frozenset({"final", "amended", "corrected", "preliminary"})
BUNDLE_TYPES = frozenset({"transaction", "batch", "collection"})
DATE_ONLY_TIME = time(12, 0, tzinfo=UTC)
"""The UTC time of day given to a date-only ``effectiveDateTime`` (see module docstring)."""


def from_fhir(obj: Any, **origin: Unpack[OriginArgs]) -> AdapterResult:
    """Readings from a decoded FHIR ``Observation`` or ``Bundle``; never raises for bad input."""
    return fhir_items(obj, Origin.of(**origin))


def fhir_items(obj: Any, origin: Origin) -> AdapterResult:
    """Like :func:`from_fhir` with an already built :class:`Origin`."""
    result = AdapterResult()
    if not isinstance(obj, dict):
        return result.reject_payload(WHOLE_PAYLOAD, "must be a FHIR resource (a JSON object)", obj)
    kind = obj.get("resourceType")
    if kind == "Observation":
        add_observation(obj, "", origin, result)
        return result
    if kind == "Bundle":
        return _add_bundle(obj, origin, result)
    return result.reject_payload(
        "resourceType", f"must be Observation or Bundle, got {str(kind)[:40]!r}", obj
    )


def _add_bundle(obj: dict[str, Any], origin: Origin, result: AdapterResult) -> AdapterResult:
    entries = obj.get("entry", [])
    try:
        bundle = Bundle.model_validate({k: v for k, v in obj.items() if k != "entry"})
    except ValidationError as exc:
        rej = _fhir_rejection(exc, "")
        return result.reject_payload(rej.field or WHOLE_PAYLOAD, rej.reason, obj)
    if bundle.type not in BUNDLE_TYPES:
        return result.reject_payload(
            "type", f"Bundle type must be one of {', '.join(sorted(BUNDLE_TYPES))}", obj
        )
    if not isinstance(entries, list):
        return result.reject_payload("entry", "must be a list of entries", obj)
    for i, entry in enumerate(entries):
        where = f"entry[{i}]"
        try:
            if not isinstance(entry, dict):
                raise Rejection("", "must be a Bundle entry object")
            _validate(BundleEntry, {k: v for k, v in entry.items() if k != "resource"})
            resource = entry.get("resource")
            if not isinstance(resource, dict):
                raise Rejection("resource", "is required and must be a resource object")
            if resource.get("resourceType") != "Observation":
                raise Rejection("resource.resourceType", "only Observation resources are accepted")
        except Rejection as rej:
            result.reject(join_location(where, rej.field), rej, entry)
            continue
        add_observation(resource, f"{where}.resource", origin, result)
    return result


def add_observation(obj: dict[str, Any], location: str, origin: Origin, result: AdapterResult) -> None:
    """Add the readings of one Observation (one per component for panels) to ``result``."""
    try:
        obs = _validate(Observation, obj)
        if obs.status not in ACCEPTED_STATUSES:
            raise Rejection(
                "status",
                f"status {obs.status!r} carries no usable value "
                f"(accepted: {', '.join(sorted(ACCEPTED_STATUSES))})",
            )
        if obs.dataAbsentReason is not None:
            raise Rejection("dataAbsentReason", "the observation has no value")
        when, time_field = _effective_time(obs)
        patient_id = origin.patient(_subject_patient(obs), "subject.reference")
        device_id = origin.device_id or origin.device(_reference_id(obs.device, "Device"), "device.reference")
        values = list(_values(obs))
    except Rejection as rej:
        result.reject(join_location(location, rej.field), rej, obj)
        return
    for path, metric, value, unit, unit_field in values:
        try:
            if isinstance(metric, Rejection):
                raise metric
            reading = origin.reading(
                patient_id=patient_id, device_id=device_id, metric=metric, value=value, unit=unit, time=when
            )
        except Rejection as rej:
            field = {"value": f"{path}.value", "unit": f"{path}.{unit_field}", "time": time_field}.get(
                rej.field, rej.field if isinstance(metric, Rejection) else f"{path}.{rej.field}"
            )
            result.reject(join_location(location, field), Rejection(field, rej.reason), obj)
        else:
            result.accepted.append(reading)


def _validate(model: Any, data: dict[str, Any]) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _fhir_rejection(exc, "") from exc


def _fhir_rejection(exc: ValidationError, prefix: str) -> Rejection:
    err = exc.errors()[0]
    path = fhir_path(err.get("loc", ()))
    return Rejection(join_location(prefix, path), str(err.get("msg", "invalid")).replace("\n", " "))


def fhir_path(loc: tuple[Any, ...] | list[Any]) -> str:
    """A pydantic error location as a FHIR path.

    >>> fhir_path(("component", 1, "valueQuantity", "value"))
    'component[1].valueQuantity.value'
    """
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out = f"{out}.{part}" if out else str(part)
    return out


def _effective_time(obs: Observation) -> tuple[datetime, str]:
    if obs.effectiveDateTime is not None:
        return _instant(obs.effectiveDateTime, "effectiveDateTime"), "effectiveDateTime"
    if obs.effectiveInstant is not None:
        return _instant(obs.effectiveInstant, "effectiveInstant"), "effectiveInstant"
    period = obs.effectivePeriod
    if period is not None and (period.end or period.start):
        field = "effectivePeriod.end" if period.end else "effectivePeriod.start"
        return _instant(period.end or period.start, field), field
    raise Rejection(
        "effectiveDateTime",
        "an effective time is required (effectiveDateTime, effectiveInstant "
        "or effectivePeriod); effectiveTiming is not supported",
    )


def _instant(value: Any, field: str) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise Rejection(field, "a date-time needs a time-zone offset")
        return value.astimezone(UTC)
    if isinstance(value, date):
        return datetime.combine(value, DATE_ONLY_TIME)
    raise Rejection(field, f"{str(value)[:30]!r} is not precise enough (at least a full date is required)")


def _reference_id(ref: Any, kind: str) -> str | None:
    if ref is None:
        return None
    text = ref.reference
    if text:
        _, sep, tail = text.rstrip("/").rpartition(f"{kind}/")
        if not sep or "/" in tail:
            raise Rejection("reference", f"must reference a {kind} (e.g. {kind}/id)")
        return tail.split("/_history/")[0]
    if ref.identifier is not None and ref.identifier.value:
        return str(ref.identifier.value)
    return None


def _subject_patient(obs: Observation) -> str | None:
    try:
        return _reference_id(obs.subject, "Patient")
    except Rejection as rej:
        raise Rejection("subject.reference", rej.reason) from rej


_Value = tuple[str, Metric | Rejection, Any, str | None, str]


def _values(obs: Observation) -> Iterator[_Value]:
    """(path, metric or why not, value, unit, unit field) for the observation or each of its components."""
    if obs.component and obs.valueQuantity is None and obs.valueInteger is None:
        for i, comp in enumerate(obs.component):
            try:
                yield _value(comp, f"component[{i}]")
            except Rejection as rej:  # one bad component does not spoil its siblings
                yield "", rej, None, None, ""
        return
    if _is_panel(obs.code):
        raise Rejection("component", "a blood-pressure panel needs its systolic and diastolic components")
    yield _value(obs, "")


def _value(element: Any, path: str) -> _Value:
    metric = _metric(element.code, path)
    if element.valueQuantity is not None:
        q = element.valueQuantity
        use_code = q.code is not None and (q.system is None or q.system == UCUM_SYSTEM)
        unit, unit_field = (q.code, "code") if use_code else (q.unit, "unit")
        return join_location(path, "valueQuantity"), metric, _number(q.value, path), unit, unit_field
    if getattr(element, "valueInteger", None) is not None:
        return join_location(path, "valueInteger"), metric, element.valueInteger, None, ""
    raise Rejection(join_location(path, "value[x]"), "valueQuantity (or valueInteger) is required")


def _number(value: Decimal | None, path: str) -> float:
    if value is None:
        raise Rejection(join_location(path, "valueQuantity.value"), "is required")
    number = float(value)
    if not math.isfinite(number):
        raise Rejection(join_location(path, "valueQuantity.value"), "must be a finite number")
    return number


def _is_panel(code: Any) -> bool:
    codings = code.coding if code is not None else None
    return any(c.system == LOINC_SYSTEM and c.code in BLOOD_PRESSURE_PANEL_LOINC for c in codings or ())


def _metric(code: Any, path: str) -> Metric:
    if code is None:
        raise Rejection(join_location(path, "code"), "is required")
    seen = []
    for c in code.coding or ():
        if c.system in CODE_SYSTEMS and c.code:
            metric = metric_for_code(c.code) or (metric_for_code(c.display) if c.display else None)
            if metric is not None:
                return metric
            seen.append(c.code)
    known = f" (got {', '.join(seen)[:80]})" if seen else ""
    raise Rejection(join_location(path, "code.coding"), f"no known LOINC or IEEE 11073 MDC code{known}")
