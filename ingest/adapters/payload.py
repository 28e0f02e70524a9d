"""Raw bytes to readings: decode JSON once, pick the adapter by content type or shape.

``application/fhir+json`` is FHIR; ``application/json`` (or no content type) is
sniffed: ``resourceType`` means FHIR, ``header`` + ``body`` means Open mHealth,
anything else is Vigil's native JSON.

>>> res = parse_payload(b'{"metric": "hr", "value": 61, "time": "2024-05-01T08:00:00Z"}', "application/json",
...                     device_id="watch-1", patient_id="p-001")
>>> res.accepted[0].metric.value, res.malformed
('heart_rate', False)
>>> res = parse_payload(b'{"metric": ', "application/json", device_id="watch-1", patient_id="p-001")
>>> res.malformed, res.rejected[0].location
(True, '$')
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Unpack

import orjson

from ingest.adapters.fhir import fhir_items
from ingest.adapters.native import native_items
from ingest.adapters.openmhealth import is_openmhealth, openmhealth_items
from ingest.adapters.origin import Origin, OriginArgs
from ingest.adapters.result import WHOLE_PAYLOAD, AdapterResult


class PayloadKind(StrEnum):
    """The payload formats Vigil reads."""

    NATIVE = "native"
    FHIR = "fhir"
    OPENMHEALTH = "openmhealth"


JSON_TYPES = frozenset({"application/json", "text/json", ""})
FHIR_TYPES = frozenset({"application/fhir+json", "application/json+fhir"})


def detect_kind(obj: Any, content_type: str | None) -> PayloadKind | None:
    """The payload kind from the content type (parameters such as charset ignored) and the decoded shape.

    >>> detect_kind({"resourceType": "Bundle"}, "application/json; charset=utf-8")
    <PayloadKind.FHIR: 'fhir'>
    >>> detect_kind({}, "text/csv") is None
    True
    """
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media in FHIR_TYPES:
        return PayloadKind.FHIR
    if media not in JSON_TYPES:
        return None
    if isinstance(obj, dict) and "resourceType" in obj:
        return PayloadKind.FHIR
    if is_openmhealth(obj):
        return PayloadKind.OPENMHEALTH
    return PayloadKind.NATIVE


def decode_json(body: bytes | str) -> tuple[Any, AdapterResult | None]:
    """Decode JSON; on failure, the malformed-payload result explaining why."""
    try:
        return orjson.loads(body), None
    except orjson.JSONDecodeError as exc:
        return None, AdapterResult().reject_payload(WHOLE_PAYLOAD, f"not valid JSON: {exc}", body)


def parse_payload(
    body: bytes | str,
    content_type: str | None,
    *,
    kind: PayloadKind | None = None,
    resource_type: str | None = None,
    **origin: Unpack[OriginArgs],
) -> AdapterResult:
    """Readings and located rejections from raw payload bytes; never raises for bad input.

    ``kind`` forces a format (the gateway's FHIR endpoints do); otherwise it is detected.
    ``resource_type`` (e.g. ``"Bundle"``) rejects any other top-level FHIR resource as malformed.
    ``origin``: ``device_id``, ``patient_id``, ``source``, ``received`` as for every adapter.
    """
    obj, failure = decode_json(body)
    if failure is not None:
        return failure
    return parse_object(obj, content_type, Origin.of(**origin), kind=kind, resource_type=resource_type)


def parse_object(
    obj: Any,
    content_type: str | None,
    origin: Origin,
    *,
    kind: PayloadKind | None = None,
    resource_type: str | None = None,
) -> AdapterResult:
    """Readings from an already decoded payload (see :func:`parse_payload`)."""
    if resource_type is not None:
        found = obj.get("resourceType") if isinstance(obj, dict) else None
        if found != resource_type:
            return AdapterResult().reject_payload(
                "resourceType", f"this endpoint accepts {resource_type} only, got {str(found)[:40]!r}", obj
            )
    kind = kind or detect_kind(obj, content_type)
    if kind is None:
        return AdapterResult().reject_payload(
            "content-type",
            f"unsupported content type {content_type!r} (use application/json or application/fhir+json)",
            None,
        )
    if kind is PayloadKind.FHIR:
        return fhir_items(obj, origin)
    if kind is PayloadKind.OPENMHEALTH:
        return openmhealth_items(obj, origin)
    return native_items(obj, origin)
