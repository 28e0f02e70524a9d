"""Ground truth and patient context shared by the simulator, the readers and the evaluation.

An :class:`Episode` is a labelled clinical event (what the simulator injected or
what a data set labels); a :class:`PatientProfile` holds per-patient settings the
detectors need, such as the NEWS2 SpO2 scale.
"""

from __future__ import annotations

import gzip
from datetime import datetime
from pathlib import Path
from typing import Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ingest.metrics import Metric
from ingest.reading import ID_PATTERN, Rejection, UtcDatetime


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


def parse_profile(data: bytes | str) -> PatientProfile:
    """A profile from its JSON, or a :class:`~ingest.reading.Rejection` naming the field and the reason.

    >>> parse_profile('{"patient_id": "p-1", "spo2_scale": 2}').spo2_scale
    2
    """
    try:
        return PatientProfile.model_validate_json(data)
    except ValidationError as exc:
        raise Rejection.from_validation_error(exc) from None


def read_profiles(path: Path) -> list[PatientProfile]:
    """The profiles of a JSONL file (one ``PatientProfile`` a line, ``.gz`` allowed), as the simulator
    writes them; blank lines are skipped.

    Raises ``ValueError`` naming the line, the field and the reason of the first bad line.

    >>> import tempfile
    >>> f = Path(tempfile.mkdtemp()) / "profiles.jsonl"
    >>> _ = f.write_text('{"patient_id": "p-1", "spo2_scale": 2}\\n{"patient_id": "p-2", "spo2_scale": 5}\\n')
    >>> read_profiles(f)
    Traceback (most recent call last):
    ...
    ValueError: profiles.jsonl:2: spo2_scale: Input should be 1 or 2
    """
    opener = gzip.open if path.suffix == ".gz" else open
    out: list[PatientProfile] = []
    with opener(path, "rt", encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                out.append(parse_profile(line))
            except Rejection as rej:
                raise ValueError(f"{path.name}:{line_no}: {rej.field}: {rej.reason}") from None
    return out
