"""Suite-wide test configuration: the ``integration`` mark and the skip-or-fail rule for services.

Tests under ``tests/integration/`` need the real Kafka, InfluxDB and Mosquitto started by
``bash scripts/services.sh up``; they are marked ``integration`` automatically, so
``pytest -m "not integration"`` runs everything else without servers.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

INTEGRATION_DIR = Path(__file__).parent / "integration"


def in_ci() -> bool:
    """True when ``CI=true``: then a missing service is a failure, never a skip."""
    return os.environ.get("CI", "").strip().lower() == "true"


def require_service(name: str, reachable: bool, reason: str) -> None:
    """Skip the calling test (or fixture) with a one-line reason unless the service is reachable.

    Under ``CI=true`` this fails instead, so a CI run can never go green by skipping.
    """
    if reachable:
        return
    message = f"{name} not reachable: {reason} (start it with `bash scripts/services.sh up {name}`)"
    if in_ci():
        pytest.fail(f"CI=true and {message}", pytrace=False)
    pytest.skip(message)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test collected from ``tests/integration/`` as ``integration``."""
    for item in items:
        if item.path.is_relative_to(INTEGRATION_DIR):
            item.add_marker(pytest.mark.integration)
