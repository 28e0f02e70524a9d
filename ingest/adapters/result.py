"""The one result type every adapter returns: accepted readings and located rejections.

>>> result = AdapterResult()
>>> result.reject("readings[2].value", Rejection("value", "must be a number, got str"), raw={"value": "x"})
>>> result.rejected[0].location, result.rejected[0].reason
('readings[2].value', 'must be a number, got str')
>>> result.counts()
{'accepted': 0, 'rejected': 1}
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from ingest.deadletter import DeadLetter
from ingest.reading import Reading, Rejection

WHOLE_PAYLOAD = "$"
"""The location of a rejection that concerns the payload as a whole (not JSON, wrong shape, ...)."""


@dataclass(frozen=True, slots=True)
class Rejected:
    """One input item that could not become a reading.

    Attributes
    ----------
    location
        Where in the payload, e.g. ``entry[3].resource.valueQuantity.unit``; ``$`` for the whole payload.
    field
        The offending field (the last path element, or a reading field such as ``value``).
    reason
        Why, in words a device integrator can act on.
    raw
        The offending item as received (a JSON-compatible value or bytes), kept for the dead-letter topic.
    """

    location: str
    field: str
    reason: str
    raw: Any = None

    def raw_bytes(self) -> bytes:
        """The raw item as bytes (JSON-encoded unless it already is bytes)."""
        if isinstance(self.raw, bytes):
            return self.raw
        try:
            return orjson.dumps(self.raw, option=orjson.OPT_NON_STR_KEYS)
        except TypeError:
            return repr(self.raw).encode()

    def to_dict(self) -> dict[str, str]:
        return {"location": self.location, "field": self.field, "reason": self.reason}

    def dead_letter(self, *, source: str, stage: str, device_id: str | None, where: str = "") -> DeadLetter:
        """This rejection as a dead-letter record (raw input included); ``where`` prefixes the location."""
        return DeadLetter.of(
            self.raw_bytes(),
            reason=self.reason,
            field=self.field,
            source=source,
            stage=stage,
            device_id=device_id,
            location=f"{where}{self.location}",
        )


@dataclass(slots=True)
class AdapterResult:
    """Readings accepted from one payload, and every item rejected with its location and reason.

    ``malformed`` is True when the payload as a whole could not be read (then nothing is accepted).
    """

    accepted: list[Reading] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    malformed: bool = False

    def reject(self, location: str, rejection: Rejection, raw: Any = None) -> None:
        """Record a rejection found at ``location`` in the payload."""
        self.rejected.append(Rejected(location, rejection.field, rejection.reason, raw))

    def reject_payload(self, location: str, reason: str, raw: Any = None) -> AdapterResult:
        """Mark the whole payload unreadable (nothing accepted); returns ``self``."""
        self.rejected.append(Rejected(location, location.rsplit(".", 1)[-1], reason, raw))
        self.malformed = True
        return self

    def extend(self, other: AdapterResult) -> None:
        self.accepted.extend(other.accepted)
        self.rejected.extend(other.rejected)
        self.malformed = self.malformed or other.malformed

    def counts(self) -> dict[str, int]:
        return {"accepted": len(self.accepted), "rejected": len(self.rejected)}

    def dead_letters(
        self, *, source: str, stage: str, device_id: str | None, where: str = ""
    ) -> list[DeadLetter]:
        """Every rejection as a dead-letter record (``where``, e.g. an MQTT topic, prefixes locations)."""
        return [
            r.dead_letter(source=source, stage=stage, device_id=device_id, where=where) for r in self.rejected
        ]


def join_location(prefix: str, field: str) -> str:
    """Join a location prefix and a field path.

    >>> join_location("entry[3].resource", "valueQuantity.unit")
    'entry[3].resource.valueQuantity.unit'
    >>> join_location("", "value")
    'value'
    """
    if not prefix:
        return field
    if not field or field == WHOLE_PAYLOAD:
        return prefix
    return f"{prefix}.{field}"
