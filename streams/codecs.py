"""Wire codecs for the Faust topics (raw bytes serializers + orjson), with dead-letter reasons.

>>> from datetime import UTC, datetime
>>> decode_ack(b'{"alert_id": "al-1", "patient_id": "p-1", "clinician_id": "c-9", '
...            b'"action": "acknowledge", "time": "2024-05-01T08:00:00Z"}').clinician_id
'c-9'
>>> decode_ack(b'{"alert_id": "al-1"}')
Traceback (most recent call last):
...
streams.codecs.Undecodable: ack: missing patient_id, clinician_id, action, time
"""

from __future__ import annotations

from typing import Any

import faust
import orjson
from pydantic import ValidationError

from detectors.events import Acknowledgement
from ingest.episodes import PatientProfile, parse_profile
from ingest.reading import Reading, Rejection

ACK_REQUIRED = ("alert_id", "patient_id", "clinician_id", "action", "time")


class RawSchema(faust.Schema):
    """Keys and values as the bytes Kafka holds: what the ``raw`` serializer gives, without a codec
    lookup per message (every topic of the worker carries bytes; the agents decode them).

    >>> RawSchema().loads_value(None, type("M", (), {"value": b"{}"})())
    b'{}'
    """

    def __init__(self) -> None:
        super().__init__(key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw")

    def loads_key(self, app: Any, message: Any, *, loads: Any = None, serializer: Any = None) -> Any:
        return message.key

    def loads_value(self, app: Any, message: Any, *, loads: Any = None, serializer: Any = None) -> Any:
        return message.value


class Undecodable(ValueError):
    """A record that cannot be decoded: ``field`` and ``reason`` go to the dead-letter topic."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def encode(obj: dict[str, Any]) -> bytes:
    """Compact JSON bytes for a record's ``to_dict()``."""
    return orjson.dumps(obj)


def decode_reading(value: bytes | None) -> Reading:
    """A canonical reading from the readings topic."""
    try:
        return Reading.from_json(value or b"")
    except ValidationError as exc:
        rej = Rejection.from_validation_error(exc)
        raise Undecodable(rej.field, rej.reason) from exc


def decode_profile(value: bytes | None) -> PatientProfile:
    """A patient profile from the profiles topic (``PatientProfile`` JSON).

    >>> decode_profile(b'{"patient_id": "p-1", "spo2_scale": 2}').spo2_scale
    2
    >>> decode_profile(b'{"patient_id": "p-1", "spo2_scale": 3}')
    Traceback (most recent call last):
    ...
    streams.codecs.Undecodable: spo2_scale: Input should be 1 or 2
    """
    try:
        return parse_profile(value or b"")
    except Rejection as rej:
        raise Undecodable(rej.field, rej.reason) from rej


def decode_ack(value: bytes | None) -> Acknowledgement:
    """An acknowledgement from the acks topic (as produced by the gateway)."""
    try:
        d = orjson.loads(value or b"")
    except orjson.JSONDecodeError as exc:
        raise Undecodable("ack", f"not JSON: {exc}") from exc
    if not isinstance(d, dict):
        raise Undecodable("ack", "must be a JSON object")
    missing = [k for k in ACK_REQUIRED if d.get(k) is None]
    if missing:
        raise Undecodable("ack", f"missing {', '.join(missing)}")
    try:
        return Acknowledgement.from_dict(d)
    except (TypeError, ValueError) as exc:
        raise Undecodable("ack", str(exc)) from exc
