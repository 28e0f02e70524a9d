"""Synthetic patients: who they are (profile) and what is normal for them (baseline).

Baselines differ between patients (age, resting heart rate, blood pressure, SpO2
norms) and follow their chronic conditions: COPD means an SpO2 target of 88–92 %
and NEWS2 SpO2 scale 2; hypertension raises blood pressure; diabetes adds glucose
monitoring; a serious mental illness (``smi``) makes a behavioural relapse possible.

>>> import numpy as np
>>> p = sample_patient(np.random.default_rng(3), "sim-000001")
>>> p.profile.patient_id, 40 <= p.baseline.heart_rate <= 100
('sim-000001', True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ingest.episodes import PatientProfile

CONDITION_PREVALENCE: dict[str, float] = {"copd": 0.15, "hypertension": 0.30, "diabetes": 0.15, "smi": 0.30}
"""Chance that a simulated patient has each chronic condition (``smi``: serious mental illness)."""


@dataclass(frozen=True, slots=True)
class Baseline:
    """A patient's resting values (canonical units) and habits."""

    heart_rate: float
    respiratory_rate: float
    spo2: float
    systolic_bp: float
    diastolic_bp: float
    body_temperature: float
    body_weight: float
    blood_glucose: float
    steps: float
    activity_minutes: float
    sleep_duration: float
    hrv_rmssd: float
    sleep_onset_hour: float
    on_home_oxygen: bool

    def level(self, name: str) -> float:
        """The baseline for a metric by its canonical name."""
        return float(getattr(self, name))


@dataclass(frozen=True, slots=True)
class SimPatient:
    """A simulated patient: the shareable profile and the hidden baseline."""

    profile: PatientProfile
    baseline: Baseline

    @property
    def patient_id(self) -> str:
        return self.profile.patient_id

    def has(self, condition: str) -> bool:
        return condition in self.profile.conditions


def sample_patient(rng: np.random.Generator, patient_id: str) -> SimPatient:
    """Draw one patient's conditions, age and baselines from ``rng``."""
    conditions = tuple(c for c, p in CONDITION_PREVALENCE.items() if rng.random() < p)
    smi = "smi" in conditions
    age = int(np.clip(rng.normal(42 if smi else 66, 14), 18, 98))
    copd = "copd" in conditions
    hypertensive = "hypertension" in conditions
    hrv_age_factor = float(np.clip(1.6 - age / 80, 0.4, 1.4))
    baseline = Baseline(
        heart_rate=float(np.clip(rng.normal(72, 8), 50, 95)),
        respiratory_rate=float(np.clip(rng.normal(17 if copd else 15, 1.5), 12, 20)),
        spo2=float(rng.uniform(89.5, 91.5) if copd else np.clip(rng.normal(97, 1.0), 95, 99.4)),
        systolic_bp=float(np.clip(rng.normal(142 if hypertensive else 124, 10), 100, 170)),
        diastolic_bp=float(np.clip(rng.normal(86 if hypertensive else 77, 6), 60, 100)),
        body_temperature=float(np.clip(rng.normal(36.7, 0.2), 36.2, 37.2)),
        body_weight=float(np.clip(rng.normal(80, 15), 45, 160)),
        blood_glucose=float(np.clip(rng.normal(7.5, 1.0), 5.5, 10.0)),
        steps=float(np.clip(rng.lognormal(np.log(6500 if age < 65 else 3500), 0.4), 500, 20000)),
        activity_minutes=float(np.clip(rng.normal(40 if age < 65 else 25, 12), 5, 120)),
        sleep_duration=float(np.clip(rng.normal(7.2, 0.6), 5.5, 9.0)),
        hrv_rmssd=float(np.clip(rng.lognormal(np.log(38 * hrv_age_factor), 0.25), 10, 120)),
        sleep_onset_hour=float(rng.normal(23.0, 0.7)),
        on_home_oxygen=bool(copd and rng.random() < 0.2),
    )
    profile = PatientProfile(
        patient_id=patient_id, spo2_scale=2 if copd else 1, age=age, conditions=conditions
    )
    return SimPatient(profile=profile, baseline=baseline)
