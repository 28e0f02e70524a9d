"""Adapters: device payloads (native JSON, FHIR R4, Open mHealth) to canonical readings.

Every adapter is a pure function returning an :class:`AdapterResult`: the accepted
:class:`~ingest.reading.Reading` objects and, for every item that could not become
one, a :class:`Rejected` with its location in the payload, the field and the reason.
Adapters never raise for bad input.
"""

from ingest.adapters.fhir import from_fhir
from ingest.adapters.native import from_native_json
from ingest.adapters.openmhealth import from_openmhealth
from ingest.adapters.origin import Origin
from ingest.adapters.payload import PayloadKind, detect_kind, parse_object, parse_payload
from ingest.adapters.result import WHOLE_PAYLOAD, AdapterResult, Rejected

__all__ = [
    "WHOLE_PAYLOAD",
    "AdapterResult",
    "Origin",
    "PayloadKind",
    "Rejected",
    "detect_kind",
    "from_fhir",
    "from_native_json",
    "from_openmhealth",
    "parse_object",
    "parse_payload",
]
