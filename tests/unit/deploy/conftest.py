"""Fixtures for the deployment-file tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def worker_health_paths(tmp_path: Path) -> set[str]:
    """Paths the worker's web server serves (a probe of a path or port it does not serve fails forever)."""
    from streams.app import create_app
    from vigil.settings import Settings

    settings = Settings(worker={"store": "memory", "app_id": "probe-check", "data_dir": tmp_path})
    app = create_app(settings, worker_id="probe")
    assert app.conf.web_enabled and app.conf.web_port == 6066
    return set(app.web.views)
