"""Run ``vigil worker`` as a child process configured from a :class:`Settings` (benchmarks, tests, demos).

The child gets the settings as ``VIGIL_*`` environment variables (secrets included, in
the child's environment only; nothing is logged).

>>> env = worker_environment(Settings(topics={"raw": "x.raw"}))
>>> '"raw":"x.raw"' in env["VIGIL_TOPICS"], env["VIGIL_INFLUX__TOKEN"]
(True, 'vigil:vigil-local-only')
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from vigil.settings import Settings, child_environment


def worker_environment(settings: Settings) -> dict[str, str]:
    """``VIGIL_*`` variables that reproduce ``settings`` in a child process."""
    env = {
        "VIGIL_ENVIRONMENT": settings.environment,
        "VIGIL_LOG_LEVEL": settings.log_level,
        "VIGIL_KAFKA": settings.kafka.model_dump_json(exclude={"sasl_password"}),
        "VIGIL_TOPICS": settings.topics.model_dump_json(),
        "VIGIL_INFLUX": settings.influx.model_dump_json(exclude={"token"}),
        "VIGIL_INFLUX__TOKEN": settings.influx.token.get_secret_value(),
        "VIGIL_GRAFANA": settings.grafana.model_dump_json(exclude={"token"}),
        "VIGIL_DETECTORS": settings.detectors.model_dump_json(),
        "VIGIL_WORKER": settings.worker.model_dump_json(),
    }
    if settings.kafka.sasl_password is not None:
        env["VIGIL_KAFKA__SASL_PASSWORD"] = settings.kafka.sasl_password.get_secret_value()
    if settings.grafana.token is not None:
        env["VIGIL_GRAFANA__TOKEN"] = settings.grafana.token.get_secret_value()
    return env


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on now (for a worker's health endpoints)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def start_worker_process(
    settings: Settings,
    worker_id: str,
    log_path: Path,
    *,
    cwd: Path | None = None,
    web_port: int | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``python -m vigil worker --worker-id ID``; output goes to ``log_path``. ``web_port``: its
    health endpoints' port instead of ``settings.worker.web_port`` (workers on one host need one each)."""
    if web_port is not None:
        settings = settings.model_copy(
            update={"worker": settings.worker.model_copy(update={"web_port": web_port})}
        )
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "vigil", "worker", "--worker-id", worker_id],
            cwd=cwd,
            env=child_environment(worker_environment(settings)),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
