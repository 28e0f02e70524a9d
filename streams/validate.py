"""The validate stage without Faust: raw Kafka records -> canonical readings or dead letters.

A raw record's value is Vigil's native JSON (one reading, a list, or
``{"readings": [...]}``; see :mod:`ingest.adapters.native`) carrying ``patient_id``
and ``device_id``. Every item becomes either a :class:`~ingest.reading.Reading`
(sent on keyed by its patient) or a :class:`~ingest.deadletter.DeadLetter` with the
field, the reason and the original bytes.

>>> ok, bad = validate_raw(b'[{"patient_id": "p-1", "device_id": "w-1", "metric": "heart_rate", '
...                        b'"value": 72, "time": "2024-05-01T08:00:00Z"}, {"metric": "spo2"}]', "raw/0/7")
>>> [r.metric.value for r in ok], bad[0].field, bad[0].reason, bad[0].location
(['heart_rate'], '[1].value', 'is required', 'raw/0/7 [1].value')
"""

from __future__ import annotations

import orjson

from ingest.adapters.native import from_native_json
from ingest.deadletter import DeadLetter
from ingest.reading import Reading

STAGE = "validate"
SOURCE = "kafka"


def validate_raw(value: bytes | None, location: str) -> tuple[list[Reading], list[DeadLetter]]:
    """Readings and dead letters for one raw record; ``location`` is ``topic/partition/offset``."""
    if not value:
        return [], [
            DeadLetter.of(
                b"", reason="empty record", field=None, source=SOURCE, stage=STAGE, location=location
            )
        ]
    try:
        obj = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        return [], [
            DeadLetter.of(value, reason=f"not JSON: {exc}", source=SOURCE, stage=STAGE, location=location)
        ]
    result = from_native_json(obj, device_id=None, patient_id=None)
    dead = [
        DeadLetter.of(
            rej.raw_bytes(),
            reason=rej.reason,
            field=rej.location,
            source=SOURCE,
            stage=STAGE,
            device_id=_device_of(rej.raw),
            location=f"{location} {rej.location}",
        )
        for rej in result.rejected
    ]
    return list(result.accepted), dead


def _device_of(raw: object) -> str | None:
    device = raw.get("device_id") if isinstance(raw, dict) else None
    return device if isinstance(device, str) else None
