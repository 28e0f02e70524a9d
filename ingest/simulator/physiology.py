"""A patient's physiology over time, vectorised: baseline + circadian + sleep + drift + noise + episodes.

Vital signs are sampled at arbitrary times (epoch seconds). Daily behaviour
(steps, activity minutes, nightly sleep duration and HRV) is one value per day or
night. Values come out in canonical units, rounded like devices round them, and
clipped into the catalogue's plausible range.

>>> import numpy as np
>>> from ingest.simulator.profiles import sample_patient
>>> patient = sample_patient(np.random.default_rng(0), "p1")
>>> body = Physiology(patient, [], np.random.default_rng(1), start=1_736_121_600, seconds=86400)
>>> hr = body.vital(Metric.HEART_RATE, np.arange(1_736_121_600, 1_736_208_000, 3600))
>>> len(hr), bool(np.all(hr == np.round(hr)))
(24, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

from ingest.episodes import Episode
from ingest.metrics import CATALOGUE, Metric
from ingest.simulator.episodes import apply_effects
from ingest.simulator.profiles import SimPatient

DAY = 86400
HOUR = 3600


@dataclass(frozen=True, slots=True)
class VitalModel:
    """How one vital sign varies around the patient's baseline (canonical units)."""

    circadian: float
    peak_hour: float
    asleep: float
    drift: float
    noise: float
    decimals: int
    low: float
    high: float


VITALS: dict[Metric, VitalModel] = {
    Metric.HEART_RATE: VitalModel(4.0, 16, -8.0, 4.0, 3.0, 0, 30, 220),
    Metric.RESPIRATORY_RATE: VitalModel(1.0, 16, -2.0, 1.0, 1.0, 0, 6, 50),
    Metric.SPO2: VitalModel(0.0, 0, -1.0, 0.6, 0.8, 0, 70, 100),
    Metric.BODY_TEMPERATURE: VitalModel(0.3, 18, -0.2, 0.1, 0.1, 1, 34.0, 42.0),
    Metric.SYSTOLIC_BP: VitalModel(6.0, 10, -10.0, 4.0, 5.0, 0, 60, 240),
    Metric.DIASTOLIC_BP: VitalModel(4.0, 10, -6.0, 3.0, 4.0, 0, 30, 140),
    Metric.BLOOD_GLUCOSE: VitalModel(0.8, 14, -0.5, 0.8, 0.7, 1, 1.8, 35.0),
    Metric.BODY_WEIGHT: VitalModel(0.0, 0, 0.0, 0.3, 0.2, 1, 20, 350),
}
"""Variation model per vital sign (all within the catalogue's plausible range)."""

for _m, _v in VITALS.items():
    assert CATALOGUE[_m].plausible[0] <= _v.low and _v.high <= CATALOGUE[_m].plausible[1], _m


def hour_of_day(t: np.ndarray) -> np.ndarray:
    """Hour of day (UTC, fractional) of epoch seconds."""
    return (t % DAY) / HOUR


def circadian(t: np.ndarray, amplitude: float, peak_hour: float) -> np.ndarray:
    """A 24 h cosine of ``amplitude`` peaking at ``peak_hour``."""
    return amplitude * np.cos(2 * np.pi * (hour_of_day(t) - peak_hour) / 24)


class Physiology:
    """One patient's body over a time window, with the episodes injected into it."""

    def __init__(
        self,
        patient: SimPatient,
        episodes: Sequence[Episode],
        rng: np.random.Generator,
        *,
        start: int,
        seconds: int,
    ) -> None:
        self.patient = patient
        self.episodes = list(episodes)
        self.start = start
        self.seconds = seconds
        self._knots = np.arange(start - 2 * HOUR, start + seconds + 2 * HOUR, HOUR, dtype=np.int64)
        self._drift = {m: self._ar1(rng, len(self._knots), VITALS[m].drift) for m in VITALS}
        self._noise = rng  # white noise drawn per call, in call order
        first_day = start - start % DAY - DAY
        self.days = np.arange(first_day, start + seconds + DAY, DAY, dtype=np.int64)
        onset = self.days + (patient.baseline.sleep_onset_hour + rng.normal(0, 0.5, len(self.days))) * HOUR
        self.sleep_onset = onset.astype(np.int64)
        raw_sleep = patient.baseline.sleep_duration * rng.lognormal(0, 0.08, len(self.days))
        self.sleep_hours = np.clip(
            apply_effects(self.episodes, Metric.SLEEP_DURATION, self.sleep_onset, raw_sleep), 1.0, 14.0
        ).round(2)
        self.wake = (self.sleep_onset + self.sleep_hours * HOUR).astype(np.int64)
        self._day_noise = {m: rng.lognormal(0, s, len(self.days)) for m, s in _DAILY_SPREAD.items()}

    @staticmethod
    def _ar1(rng: np.random.Generator, n: int, sd: float, rho: float = 0.9) -> np.ndarray:
        """A stationary AR(1) series with standard deviation ``sd`` (one value per hour)."""
        shocks = rng.normal(0, sd * np.sqrt(1 - rho**2), n)
        out, _ = lfilter([1.0], [1.0, -rho], shocks, zi=[rho * rng.normal(0, sd)])
        return np.asarray(out)

    def asleep(self, t: np.ndarray) -> np.ndarray:
        """True where the patient is asleep at ``t``."""
        night = np.searchsorted(self.sleep_onset, t, side="right") - 1
        return (night >= 0) & (t < self.wake[np.maximum(night, 0)])

    def vital(self, metric: Metric, t: np.ndarray) -> np.ndarray:
        """``metric`` measured at times ``t``: rounded like a device and clipped to the plausible range."""
        model = VITALS[metric]
        raw = (
            self.patient.baseline.level(metric.value)
            + circadian(t, model.circadian, model.peak_hour)
            + model.asleep * self.asleep(t)
            + np.interp(t, self._knots, self._drift[metric])
            + self._noise.normal(0, model.noise, t.shape)
        )
        return np.clip(apply_effects(self.episodes, metric, t, raw), model.low, model.high).round(
            model.decimals
        )

    def nightly(self) -> tuple[np.ndarray, dict[Metric, np.ndarray]]:
        """Wake-up times in the window and, for each night, sleep duration (h) and HRV RMSSD (ms)."""
        keep = (self.wake >= self.start) & (self.wake < self.start + self.seconds)
        hrv = self.patient.baseline.hrv_rmssd * self._day_noise[Metric.HRV_RMSSD]
        hrv = np.clip(apply_effects(self.episodes, Metric.HRV_RMSSD, self.sleep_onset, hrv), 5, 250).round(0)
        return self.wake[keep], {Metric.SLEEP_DURATION: self.sleep_hours[keep], Metric.HRV_RMSSD: hrv[keep]}

    def daily(self) -> tuple[np.ndarray, dict[Metric, np.ndarray]]:
        """End-of-day times (23:59) in the window and each day's steps and activity minutes."""
        t = self.days + DAY - 60
        keep = (t >= self.start) & (t < self.start + self.seconds)
        b = self.patient.baseline
        ratio = self._day_noise[Metric.STEPS]
        steps = apply_effects(self.episodes, Metric.STEPS, t, b.steps * ratio)
        active_raw = b.activity_minutes * ratio**0.8 * self._day_noise[Metric.ACTIVITY_MINUTES]
        active = apply_effects(self.episodes, Metric.ACTIVITY_MINUTES, t, active_raw)
        return t[keep], {
            Metric.STEPS: np.clip(steps, 0, 60000).round(0)[keep],
            Metric.ACTIVITY_MINUTES: np.clip(active, 0, 600).round(0)[keep],
        }


_DAILY_SPREAD: dict[Metric, float] = {
    Metric.STEPS: 0.25,
    Metric.ACTIVITY_MINUTES: 0.2,
    Metric.HRV_RMSSD: 0.12,
}
