"""``PUT /v1/patients/{patient_id}/profile``: a clinician sets a patient's monitoring profile.

The profile (``ingest.episodes.PatientProfile``) goes to ``Settings.topics.profiles``, keyed by
patient id and compacted, so the stream worker always has each patient's latest one. Its SpO2
scale decides how NEWS2 scores oxygen saturation: scale 2 (target 88-92 %) only for patients
with confirmed hypercapnic respiratory failure, as prescribed by a clinician (RCP 2017).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field

from ingest.episodes import PatientProfile
from ingest.gateway.auth import clinician, state
from ingest.gateway.responses import stored_in_kafka
from ingest.reading import ID_PATTERN

router = APIRouter(tags=["patients"])


class ProfileRequest(BaseModel):
    """The profile fields a clinician sets (the patient comes from the path)."""

    model_config = ConfigDict(extra="forbid")

    spo2_scale: Literal[1, 2] = Field(
        description="NEWS2 SpO2 scale: 2 for confirmed hypercapnic respiratory failure (e.g. COPD)."
    )
    age: int | None = Field(default=None, ge=0, le=130)
    conditions: tuple[str, ...] = Field(default=(), max_length=50)


@router.put("/v1/patients/{patient_id}/profile", status_code=202, summary="Set a patient's profile")
async def set_profile(
    patient_id: Annotated[str, Path(pattern=ID_PATTERN)],
    body: ProfileRequest,
    gateway: Annotated[Any, Depends(state)],
    by: Annotated[Any, Depends(clinician)],
) -> dict[str, Any]:
    """Store the patient's profile (clinician token; the clinician is audited); answered once Kafka has it."""
    profile = PatientProfile(patient_id=patient_id, **body.model_dump())
    await stored_in_kafka("profile", gateway.sink.send_profiles, [profile], by.id)
    return profile.model_dump(mode="json")
