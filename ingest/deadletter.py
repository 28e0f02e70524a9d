"""The dead-letter record: input that could not become a reading, kept with the reason.

Every stage that rejects something (gateway, MQTT bridge, stream validator,
replay) writes one of these to the dead-letter topic, so nothing is lost.

>>> dl = DeadLetter.of(b'{"metric": "spo2", "value": 140}', field="value", reason="outside 0..100 %",
...                    source="http", stage="gateway")
>>> DeadLetter.from_json(dl.to_json()).raw_bytes()
b'{"metric": "spo2", "value": 140}'
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import orjson
from pydantic import BaseModel, ConfigDict, Field


class DeadLetter(BaseModel):
    """A rejected input: the original bytes (base64), where it failed and why."""

    model_config = ConfigDict(frozen=True)

    reason: str = Field(description="Human-readable reason a device integrator can act on.")
    field: str | None = Field(default=None, description="The offending field path, when known.")
    source: str = Field(description="Where it came from: http, mqtt, kafka, replay, ...")
    stage: str = Field(description="Which stage rejected it: gateway, mqtt-bridge, validate, ...")
    device_id: str | None = None
    location: str | None = Field(
        default=None, description="Item index, file line, or topic/partition/offset."
    )
    received: datetime = Field(default_factory=lambda: datetime.now(UTC))
    raw: str = Field(description="The original payload, base64-encoded.")

    @classmethod
    def of(
        cls,
        raw: bytes | str,
        *,
        reason: str,
        source: str,
        stage: str,
        field: str | None = None,
        device_id: str | None = None,
        location: str | None = None,
    ) -> DeadLetter:
        data = raw.encode() if isinstance(raw, str) else raw
        return cls(
            reason=reason,
            field=field,
            source=source,
            stage=stage,
            device_id=device_id,
            location=location,
            raw=base64.b64encode(data).decode("ascii"),
        )

    def raw_bytes(self) -> bytes:
        return base64.b64decode(self.raw)

    def to_json(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json"))

    @classmethod
    def from_json(cls, data: bytes | str) -> DeadLetter:
        return cls.model_validate_json(data)
