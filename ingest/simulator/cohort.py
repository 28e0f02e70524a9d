"""A simulated cohort: profiles, ground-truth episodes and every reading, deterministic from the seed.

Patient ``k`` draws from its own generator, ``SeedSequence(seed, spawn_key=(k,))``
(what ``SeedSequence(seed).spawn(n)[k]`` gives for any ``n >= k + 1``), so a
patient's stream does not depend on the cohort size.

>>> cohort = simulate_cohort(CohortConfig(patients=2, days=0.25, seed=1))
>>> [p.patient_id for p in cohort.profiles]
['sim-000000', 'sim-000001']
>>> first = next(cohort.readings())
>>> first.source.value, first.received <= max(r.received for r in cohort.readings())
('simulator', True)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ingest.episodes import Episode, PatientProfile
from ingest.reading import Reading
from ingest.simulator import artefacts
from ingest.simulator.columns import METRIC_INDEX, ReadingColumns
from ingest.simulator.config import CohortConfig
from ingest.simulator.devices import DEVICES, Device, measure
from ingest.simulator.episodes import sample_episodes
from ingest.simulator.parallel import ordered_map
from ingest.simulator.physiology import Physiology
from ingest.simulator.profiles import SimPatient, sample_patient

_DEVICE_INDEX = {d: i for i, d in enumerate(DEVICES)}
PATIENTS_PER_TASK = 25


@dataclass(frozen=True, slots=True)
class SimulatedPatient:
    """One patient's profile, baselines, ground truth and delivered readings (columns)."""

    patient: SimPatient
    episodes: list[Episode]
    columns: ReadingColumns


def simulate_patient(config: CohortConfig, index: int, *, sort: bool = True) -> SimulatedPatient:
    """Simulate patient ``index`` of the cohort described by ``config`` (``sort=False``: rows by device)."""
    seeds = np.random.SeedSequence(config.seed, spawn_key=(index,)).spawn(4)
    who, when, body_rng, device_rng = (np.random.default_rng(s) for s in seeds)
    patient = sample_patient(who, config.patient_id(index))
    start, seconds = config.start_epoch, config.n_seconds
    episodes = sample_episodes(
        when,
        patient,
        start=start,
        seconds=seconds,
        rate_per_day=config.episode_rate,
        kinds=config.episode_kinds,
    )
    body = Physiology(patient, episodes, body_rng, start=start, seconds=seconds)
    measured = measure(device_rng, config, body, episodes)
    art = config.artefacts
    gaps = {
        Device.WATCH: artefacts.outages(device_rng, body.days, art.connectivity_gap_prob),
        None: artefacts.outages(device_rng, body.days, art.connectivity_gap_prob),
    }
    parts = []
    for m in measured:
        n = len(m.time)
        received = artefacts.arrival_times(
            device_rng, m.time, gaps[m.device if m.device is Device.WATCH else None], art
        )
        parts.append(
            ReadingColumns(
                patient=np.full(n, index, dtype=np.int32),
                device=np.full(n, _DEVICE_INDEX[m.device], dtype=np.int8),
                metric=np.full(n, METRIC_INDEX[m.metric.value], dtype=np.int8),
                time=m.time.astype(np.int64),
                received=received.astype(np.int64),
                value=m.value.astype(float),
            )
        )
    cols = ReadingColumns.concat(parts)
    dup = artefacts.duplicate_index(device_rng, len(cols), art.duplicate_prob)
    if len(dup):
        again = cols.take(dup)
        again = ReadingColumns(
            again.patient,
            again.device,
            again.metric,
            again.time,
            again.received + device_rng.integers(5, 900, len(dup)),
            again.value,
        )
        cols = ReadingColumns.concat([cols, again])
    return SimulatedPatient(patient, episodes, cols.arrival_order() if sort else cols)


@dataclass(frozen=True, slots=True)
class Cohort:
    """A simulated cohort; ``columns`` hold every reading in arrival order (sorted by ``received``)."""

    config: CohortConfig
    patients: list[SimPatient]
    episodes: list[Episode]
    columns: ReadingColumns

    @property
    def profiles(self) -> list[PatientProfile]:
        return [p.profile for p in self.patients]

    @property
    def patient_ids(self) -> list[str]:
        return [p.patient_id for p in self.patients]

    def __len__(self) -> int:
        return len(self.columns)

    def devices(self) -> dict[str, str]:
        """Every device that delivered a reading, with its patient (``device_id -> patient_id``)."""
        pairs = np.unique(self.columns.patient.astype(np.int64) * len(DEVICES) + self.columns.device)
        ids = self.patient_ids
        return {
            f"{ids[k // len(DEVICES)]}-{DEVICES[k % len(DEVICES)].value}": ids[k // len(DEVICES)]
            for k in pairs.tolist()
        }

    def records(self) -> Iterator[dict[str, Any]]:
        """Every reading as a ``Reading.to_dict()`` record, in arrival order."""
        return self.columns.records(self.patient_ids, self.config.source)

    def json_lines(self, *, workers: int = 1) -> Iterator[bytes]:
        """Every reading as JSON lines (chunks of bytes), in arrival order; ``workers`` processes."""
        return self.columns.json_lines(self.patient_ids, self.config.source, workers=workers)

    def readings(self) -> Iterator[Reading]:
        """Every reading as a validated :class:`Reading`, in arrival order."""
        return (Reading.model_validate(r) for r in self.records())


def _simulate_block(task: tuple[CohortConfig, range]) -> list[SimulatedPatient]:
    config, indices = task
    return [simulate_patient(config, k, sort=False) for k in indices]


def simulate_cohort(config: CohortConfig, *, workers: int = 1) -> Cohort:
    """Simulate the whole cohort on ``workers`` processes (same result for any number of workers).

    All readings are held as compact columns (about 40 bytes a reading).
    """
    blocks = (
        (config, range(k, min(k + PATIENTS_PER_TASK, config.patients)))
        for k in range(0, config.patients, PATIENTS_PER_TASK)
    )
    sims = [s for block in ordered_map(_simulate_block, blocks, workers=workers) for s in block]
    return Cohort(
        config=config,
        patients=[s.patient for s in sims],
        episodes=[e for s in sims for e in s.episodes],
        columns=ReadingColumns.concat([s.columns for s in sims]).arrival_order(),
    )


def simulate_readings(config: CohortConfig) -> Iterator[Reading]:
    """Every reading of the cohort as :class:`Reading` objects, in arrival order (sorted by ``received``)."""
    return simulate_cohort(config).readings()
