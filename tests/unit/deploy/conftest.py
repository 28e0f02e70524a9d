"""Fixtures for the deployment-file tests."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

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


@pytest.fixture
def settings_from(monkeypatch: pytest.MonkeyPatch) -> Callable[[Mapping[str, Any]], Any]:
    """``Settings`` from exactly these ``VIGIL_*`` variables (the test's own are set aside)."""
    from vigil.settings import Settings

    def load(env: Mapping[str, Any]) -> Settings:
        for name in [n for n in os.environ if n.startswith("VIGIL_")]:
            monkeypatch.delenv(name)
        for name, value in env.items():
            monkeypatch.setenv(name, str(value))
        return Settings()

    return load
