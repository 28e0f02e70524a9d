"""Ground truth and patient context shared by the simulator, the readers and the evaluation.

An :class:`Episode` is a labelled clinical event (what the simulator injected or
what a data set labels); a :class:`PatientProfile` holds per-patient settings the
detectors need, such as the NEWS2 SpO2 scale.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

from ingest.metrics import Metric
from ingest.reading import ID_PATTERN, UtcDatetime


class Episode(BaseModel):
    """A labelled clinical episode for one patient.

    ``kind`` examples: ``sepsis``, ``desaturation``, ``bradycardia``, ``tachycardia``,
    ``hypotension``, ``hypoglycaemia``, ``hyperglycaemia``, ``relapse`` (behavioural change).
    ``end`` is None while the episode lasts to the end of the data.
    """

    model_config = ConfigDict(frozen=True)

    patient_id: str = Field(pattern=ID_PATTERN)
    kind: str
    start: UtcDatetime
    end: UtcDatetime | None = None
    metrics: tuple[Metric, ...] = ()

    def contains(self, t: datetime) -> bool:
        return self.start <= t and (self.end is None or t <= self.end)

    def to_json(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json"))


class PatientProfile(BaseModel):
    """Per-patient settings and context (pseudonymous)."""

    model_config = ConfigDict(frozen=True)

    patient_id: str = Field(pattern=ID_PATTERN)
    spo2_scale: Literal[1, 2] = Field(
        default=1,
        description="NEWS2 SpO2 scale: 2 for confirmed hypercapnic respiratory failure (e.g. COPD).",
    )
    age: int | None = Field(default=None, ge=0, le=130)
    conditions: tuple[str, ...] = ()
