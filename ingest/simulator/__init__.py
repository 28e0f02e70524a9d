"""Cohort simulator: synthetic patients, devices, artefacts and labelled clinical episodes.

>>> cohort = simulate_cohort(CohortConfig(patients=3, days=1.0, seed=7))
>>> len(cohort.profiles), len(cohort) > 500
(3, True)
"""

from ingest.simulator.cohort import Cohort, simulate_cohort, simulate_patient, simulate_readings
from ingest.simulator.config import Artefacts, Cadence, CohortConfig
from ingest.simulator.episodes import KINDS

__all__ = [
    "KINDS",
    "Artefacts",
    "Cadence",
    "Cohort",
    "CohortConfig",
    "simulate_cohort",
    "simulate_patient",
    "simulate_readings",
]
