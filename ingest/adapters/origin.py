"""Who sent a payload: the authenticated device and its patient, and the rules for claims in it.

The authenticated identity (gateway bearer token, MQTT topic) wins: a payload item
that names a *different* patient or device is rejected, never silently re-assigned.
Without an authenticated identity (recorded files) the payload's own ids are used.

>>> from datetime import UTC, datetime
>>> o = Origin(device_id="cuff-1", patient_id="p-1", source=Source.HOME_DEVICE,
...            received=datetime(2024, 1, 1, tzinfo=UTC))
>>> o.patient("p-1", "patient_id")
'p-1'
>>> o.patient("p-2", "subject.reference")
Traceback (most recent call last):
...
ingest.reading.Rejection: subject.reference: names a different patient than the authenticated device
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Required, TypedDict

from ingest.metrics import Metric
from ingest.reading import Reading, Rejection, Source, make_reading


class OriginArgs(TypedDict, total=False):
    """The keyword arguments every public adapter takes (see :meth:`Origin.of`)."""

    device_id: Required[str | None]
    patient_id: Required[str | None]
    source: Source | str
    received: datetime | None


@dataclass(frozen=True, slots=True)
class Origin:
    """The sender of a payload and when it arrived."""

    device_id: str | None
    patient_id: str | None
    source: Source
    received: datetime

    @classmethod
    def of(
        cls,
        *,
        device_id: str | None,
        patient_id: str | None,
        source: Source | str = Source.WEARABLE,
        received: datetime | None = None,
    ) -> Origin:
        """``device_id``/``patient_id``: the authenticated identity (None: take it from the payload);
        ``source``: the reading source; ``received``: arrival time (default now)."""
        try:
            src = Source(source)
        except ValueError as exc:
            raise ValueError(f"source: unknown source {source!r}") from exc
        return cls(device_id, patient_id, src, received or datetime.now(UTC))

    def reading(
        self,
        *,
        patient_id: str,
        device_id: str,
        metric: Metric | str,
        value: Any,
        unit: str | None,
        time: Any,
        **extra: Any,
    ) -> Reading:
        """:func:`~ingest.reading.make_reading` stamped with this origin's source and arrival time."""
        return make_reading(
            patient_id=patient_id,
            device_id=device_id,
            metric=metric,
            value=value,
            unit=unit,
            time=time,
            received=self.received,
            source=self.source,
            **extra,
        )

    def patient(self, claimed: object, field: str) -> str:
        """The patient for an item that names ``claimed`` (None: names none) at ``field``."""
        return _resolve(self.patient_id, claimed, field, "patient")

    def device(self, claimed: object, field: str) -> str:
        """The device for an item that names ``claimed`` (None: names none) at ``field``."""
        return _resolve(self.device_id, claimed, field, "device")


def _resolve(authenticated: str | None, claimed: object, field: str, what: str) -> str:
    if claimed is not None and not isinstance(claimed, str):
        raise Rejection(field, f"must be a string {what} id")
    if authenticated is None:
        if not claimed:
            raise Rejection(field, f"a {what} id is required")
        return claimed
    if claimed and claimed != authenticated:
        raise Rejection(field, f"names a different {what} than the authenticated device")
    return authenticated
