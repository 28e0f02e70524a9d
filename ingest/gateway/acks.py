"""``POST /v1/alerts/{alert_id}/ack``: a clinician acknowledges or snoozes an alert.

The record written to ``Settings.topics.acks`` (keyed by patient id) has the shape of
``detectors.events.Acknowledgement.to_dict()``: alert_id, patient_id, clinician_id,
action, time, snooze_minutes, note.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ingest.gateway.auth import clinician, state
from ingest.gateway.responses import stored_in_kafka
from ingest.reading import ID_PATTERN

router = APIRouter(tags=["alerts"])


class AckRequest(BaseModel):
    """What the clinician decided about an alert."""

    model_config = ConfigDict(extra="forbid")

    patient_id: str = Field(pattern=ID_PATTERN)
    action: Literal["acknowledge", "snooze"]
    snooze_minutes: float | None = Field(default=None, gt=0, le=7 * 24 * 60)
    note: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _snooze_needs_minutes(self) -> AckRequest:
        if self.action == "snooze" and self.snooze_minutes is None:
            raise ValueError("snooze_minutes is required to snooze")
        if self.action == "acknowledge" and self.snooze_minutes is not None:
            raise ValueError("snooze_minutes only applies to snooze")
        return self


def ack_record(alert_id: str, clinician_id: str, request: AckRequest, now: datetime) -> dict[str, Any]:
    """The acknowledgement record (``Acknowledgement.to_dict()`` shape).

    >>> req = AckRequest(patient_id="p-1", action="snooze", snooze_minutes=30)
    >>> ack_record("al-1", "dr-a", req, datetime(2024, 1, 1, tzinfo=UTC))["time"]
    '2024-01-01T00:00:00Z'
    """
    return {
        "alert_id": alert_id,
        "patient_id": request.patient_id,
        "clinician_id": clinician_id,
        "action": request.action,
        "time": now.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "snooze_minutes": request.snooze_minutes,
        "note": request.note,
    }


@router.post("/v1/alerts/{alert_id}/ack", status_code=202, summary="Acknowledge or snooze an alert")
async def acknowledge(
    alert_id: Annotated[str, Path(pattern=ID_PATTERN)],
    body: AckRequest,
    gateway: Annotated[Any, Depends(state)],
    by: Annotated[Any, Depends(clinician)],
) -> dict[str, Any]:
    """Record a clinician's acknowledgement (or snooze) of an alert; answered once Kafka has it."""
    record = ack_record(alert_id, by.id, body, datetime.now(UTC))
    await stored_in_kafka("acknowledgement", gateway.sink.send_ack, record)
    return record
