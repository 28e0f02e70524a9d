"""Which device measures what, and when: watch, oximeter, BP cuff, thermometer, obs, glucometer, scale.

:func:`measure` turns a patient's :class:`~ingest.simulator.physiology.Physiology` into
the readings their devices take (event times and values), with missing data and
sensor artefacts applied, but before delivery (delays, duplicates).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from ingest.episodes import Episode
from ingest.metrics import Metric
from ingest.simulator import artefacts
from ingest.simulator.config import CohortConfig
from ingest.simulator.episodes import KINDS, severity
from ingest.simulator.physiology import DAY, HOUR, Physiology

ROUND_HOURS = (8.0, 13.0, 18.0, 22.0)
"""Observation rounds (UTC hours); a device with n checks a day takes the first n."""


class Device(StrEnum):
    """Device kinds; a reading's ``device_id`` is ``<patient_id>-<kind>``."""

    WATCH = "watch"
    OXIMETER = "oximeter"
    BP_CUFF = "bpcuff"
    THERMOMETER = "thermometer"
    OBS = "obs"
    GLUCOMETER = "glucometer"
    SCALE = "scale"


DEVICES: tuple[Device, ...] = tuple(Device)


@dataclass(frozen=True, slots=True)
class Measured:
    """One metric from one device: event times (epoch s) and values (canonical units)."""

    device: Device
    metric: Metric
    time: np.ndarray
    value: np.ndarray


def _round_times(rng: np.random.Generator, days: np.ndarray) -> np.ndarray:
    """Jittered observation-round times, shape (days, rounds)."""
    hours = np.asarray(ROUND_HOURS) * HOUR
    return (days[:, None] + hours[None, :] + rng.normal(0, 1200, (len(days), len(hours)))).astype(np.int64)


def _extra_rounds(
    rng: np.random.Generator, episodes: Sequence[Episode], every_hours: float | None
) -> np.ndarray:
    """Extra full rounds: regular checks during sepsis (virtual ward), a symptomatic one in acute events."""
    extra: list[np.ndarray] = []
    for ep in episodes:
        begin, end = int(ep.start.timestamp()), int(ep.end.timestamp()) if ep.end else None
        if end is None:
            continue
        if ep.kind == "sepsis" and every_hours:
            extra.append(np.arange(begin + every_hours * HOUR / 2, end, every_hours * HOUR).astype(np.int64))
        elif not KINDS[ep.kind].gradual and rng.random() < 0.8:
            extra.append(np.array([rng.integers(begin, end + 1)], dtype=np.int64))
    return np.concatenate(extra) if extra else np.zeros(0, dtype=np.int64)


class _Schedule:
    """Spot-check times for each device, in the window, with skipped checks removed."""

    def __init__(
        self, rng: np.random.Generator, cfg: CohortConfig, body: Physiology, episodes: Sequence[Episode]
    ):
        self.rng, self.cfg = rng, cfg
        self.rounds = _round_times(rng, body.days)
        self.extra = _extra_rounds(rng, episodes, cfg.cadence.deterioration_check_hours)
        self.lo, self.hi = cfg.start_epoch, cfg.start_epoch + cfg.n_seconds

    def checks(self, per_day: int, offset_s: int, *, extra: bool = True) -> np.ndarray:
        t = (
            np.concatenate([self.rounds[:, :per_day].ravel(), self.extra if extra else self.extra[:0]])
            + offset_s
        )
        t = np.sort(t[(t >= self.lo) & (t < self.hi)])
        return t[self.rng.random(t.shape) >= self.cfg.artefacts.skip_check_prob]


def measure(
    rng: np.random.Generator, cfg: CohortConfig, body: Physiology, episodes: Sequence[Episode]
) -> list[Measured]:
    """Every reading the patient's devices take over the window (before delivery)."""
    cad, art = cfg.cadence, cfg.artefacts
    sched = _Schedule(rng, cfg, body, episodes)
    out: list[Measured] = []

    def vitals(device: Device, t: np.ndarray, *metrics: Metric) -> list[np.ndarray]:
        values = [body.vital(m, t) for m in metrics]
        out.extend(Measured(device, m, t, v) for m, v in zip(metrics, values, strict=True))
        return values

    out.extend(_watch(rng, cfg, body))
    t = sched.checks(cad.oximeter_per_day, 0)
    spo2, pulse = vitals(Device.OXIMETER, t, Metric.SPO2, Metric.HEART_RATE)
    off = artefacts.probe_off(rng, len(t), art.probe_off_prob)
    spo2[off], pulse[off] = 0.0, 0.0
    vitals(Device.THERMOMETER, sched.checks(cad.thermometer_per_day, 60), Metric.BODY_TEMPERATURE)
    t = sched.checks(cad.bp_per_day, 120)
    sbp, dbp = vitals(Device.BP_CUFF, t, Metric.SYSTOLIC_BP, Metric.DIASTOLIC_BP)
    np.minimum(dbp, sbp - 10, out=dbp)
    t = sched.checks(cad.obs_per_day, 180)
    vitals(Device.OBS, t, Metric.RESPIRATORY_RATE)
    septic = severity(episodes, t, kinds={"sepsis"})
    confused = (septic > 0.75) & (rng.random(t.shape) < 0.4)
    oxygen = body.patient.baseline.on_home_oxygen | ((septic > 0.6) & (rng.random(t.shape) < 0.5))
    out.append(Measured(Device.OBS, Metric.CONSCIOUSNESS, t, confused.astype(float)))
    out.append(
        Measured(Device.OBS, Metric.SUPPLEMENTAL_OXYGEN, t, np.broadcast_to(oxygen, t.shape).astype(float))
    )
    if body.patient.has("diabetes"):
        vitals(Device.GLUCOMETER, sched.checks(cad.glucose_per_day, -600), Metric.BLOOD_GLUCOSE)
    every = cad.weight_every_days * DAY
    t = np.arange(body.days[0] + 7.5 * HOUR + rng.uniform(0, every), sched.hi, every).astype(np.int64)
    vitals(Device.SCALE, t[t >= sched.lo], Metric.BODY_WEIGHT)
    return out


def _watch(rng: np.random.Generator, cfg: CohortConfig, body: Physiology) -> list[Measured]:
    """Smartwatch heart rate on a fixed cadence, nightly sleep and HRV, daily steps and activity."""
    step = cfg.cadence.watch_minutes * 60
    t = (cfg.start_epoch + np.arange(rng.uniform(0, step), cfg.n_seconds, step)).astype(np.int64)
    off_begin, off_end = artefacts.watch_off_intervals(rng, body.days, cfg.artefacts)
    t = t[~artefacts.inside_any(t, off_begin, off_end)]
    hr = artefacts.motion_spikes(
        rng, body.vital(Metric.HEART_RATE, t), ~body.asleep(t), cfg.artefacts.motion_spike_prob
    )
    out = [Measured(Device.WATCH, Metric.HEART_RATE, t, hr)]
    for when, values in (body.nightly(), body.daily()):
        worn = ~artefacts.inside_any(when, off_begin, off_end)
        out.extend(Measured(Device.WATCH, m, when[worn], v[worn]) for m, v in values.items())
    return out
