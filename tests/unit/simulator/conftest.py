"""Shared simulated cohorts (module-scoped: generating them is the slow part)."""

from __future__ import annotations

import pytest

from ingest.simulator import Artefacts, CohortConfig, simulate_cohort
from ingest.simulator.cohort import Cohort


@pytest.fixture(scope="session")
def default_cohort() -> Cohort:
    """Default artefacts and episodes: 40 patients for 3 days."""
    return simulate_cohort(CohortConfig(patients=40, days=3.0, seed=11, episode_rate=0.2))


@pytest.fixture(scope="session")
def clean_cohort() -> Cohort:
    """No artefacts and no episodes: every scheduled reading, on time, once."""
    return simulate_cohort(
        CohortConfig(patients=20, days=2.0, seed=5, artefacts=Artefacts.none(), episode_rate=0)
    )
