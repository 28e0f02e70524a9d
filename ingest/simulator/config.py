"""What to simulate: cohort size, duration, seed, device cadences, artefact and episode rates.

>>> cfg = CohortConfig(patients=3, days=0.5, seed=1)
>>> cfg.cadence.watch_minutes, cfg.n_seconds
(5.0, 43200)
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ingest.reading import Source, UtcDatetime

DEFAULT_START = datetime(2025, 1, 6, tzinfo=UTC)
"""A fixed default start (a Monday, midnight UTC) so a seed alone fixes the output."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Cadence(_Frozen):
    """How often each device measures (per day unless named otherwise).

    Spot checks happen at observation rounds (08:00, 13:00, 18:00, 22:00 UTC, jittered);
    a device with ``n`` checks a day takes the first ``n`` rounds. ``obs`` rounds record
    respiratory rate, consciousness (ACVPU) and supplemental oxygen, so that with the
    defaults every NEWS2 parameter is measured three times a day.
    """

    watch_minutes: float = Field(default=5.0, gt=0, le=1440, description="Smartwatch heart-rate interval.")
    oximeter_per_day: int = Field(default=3, ge=0, le=4, description="SpO2 + pulse spot checks.")
    thermometer_per_day: int = Field(default=3, ge=0, le=4)
    bp_per_day: int = Field(default=3, ge=0, le=4, description="Systolic + diastolic from the cuff.")
    obs_per_day: int = Field(default=3, ge=0, le=4, description="Respiratory rate, ACVPU, on oxygen.")
    glucose_per_day: int = Field(default=4, ge=0, le=4, description="Diabetic patients only.")
    weight_every_days: float = Field(default=7.0, gt=0)
    deterioration_check_hours: float | None = Field(
        default=4.0, gt=0, description="Extra full observation rounds this often during sepsis (None: off)."
    )


class Artefacts(_Frozen):
    """Missing data and sensor artefacts (probabilities are per reading unless named otherwise)."""

    charging_hours: float = Field(
        default=1.0, ge=0, le=24, description="Watch off the wrist daily to charge."
    )
    watch_off_day_prob: float = Field(default=0.05, ge=0, le=1, description="Watch not worn all day.")
    battery_flat_prob: float = Field(default=0.03, ge=0, le=1, description="Per day: 6–18 h flat battery.")
    skip_check_prob: float = Field(default=0.1, ge=0, le=1, description="A spot check not done.")
    connectivity_gap_prob: float = Field(
        default=0.1, ge=0, le=1, description="Per day: a 2–8 h hub outage; readings arrive after it."
    )
    late_prob: float = Field(default=0.01, ge=0, le=1, description="Extra 1–30 min delay (out of order).")
    duplicate_prob: float = Field(default=0.005, ge=0, le=1, description="Re-sent with the same reading_id.")
    motion_spike_prob: float = Field(default=0.01, ge=0, le=1, description="Watch HR spike while moving.")
    probe_off_prob: float = Field(default=0.02, ge=0, le=1, description="Oximeter reads 0 % / 0 bpm.")

    @classmethod
    def none(cls) -> Artefacts:
        """No missing data and no artefacts: every scheduled reading, on time, once."""
        return cls(**{name: 0.0 for name in cls.model_fields})


class CohortConfig(_Frozen):
    """Everything that determines a simulated cohort; the same config gives the same cohort."""

    patients: int = Field(default=50, ge=1, le=1_000_000)
    days: float = Field(default=1.0, gt=0, le=3650)
    seed: int = Field(default=7, ge=0)
    start: UtcDatetime = DEFAULT_START
    cadence: Cadence = Cadence()
    artefacts: Artefacts = Artefacts()
    episode_rate: float = Field(default=0.05, ge=0, le=10, description="Expected episodes per patient-day.")
    episode_kinds: tuple[str, ...] | None = Field(default=None, description="Restrict kinds (None: all).")
    id_prefix: str = Field(default="sim", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,40}$")
    source: Source = Source.SIMULATOR

    @field_validator("start")
    @classmethod
    def _whole_seconds(cls, v: datetime) -> datetime:
        return v.replace(microsecond=0)

    @property
    def start_epoch(self) -> int:
        return int(self.start.timestamp())

    @property
    def n_seconds(self) -> int:
        return round(self.days * 86400)

    def patient_id(self, index: int) -> str:
        return f"{self.id_prefix}-{index:06d}"
