"""The container helper scripts: the health check and the entrypoint's token-file handling."""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from ingest.topics import topic_names
from vigil.settings import Settings

DOCKER_DIR = Path(__file__).resolve().parents[3] / "deploy" / "docker"


def _healthcheck() -> ModuleType:
    spec = importlib.util.spec_from_file_location("vigil_healthcheck", DOCKER_DIR / "healthcheck.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Status(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/readyz" else 503)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def http_base() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Status)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_http_check(http_base: str, capsys: pytest.CaptureFixture[str]) -> None:
    hc = _healthcheck()
    assert hc.main(["http", f"{http_base}/readyz"]) == 0
    assert hc.main(["http", f"{http_base}/healthz"]) == 1
    assert "unhealthy" in capsys.readouterr().err


def test_tcp_check(http_base: str) -> None:
    hc = _healthcheck()
    open_address = http_base.removeprefix("http://")
    assert hc.main(["tcp", open_address]) == 0
    assert hc.main(["tcp", open_address, f"127.0.0.1:{_closed_port()}", "--timeout", "1"]) == 1


@pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX shell")
def test_entrypoint_reads_the_token_file(tmp_path: Path) -> None:
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "vigil").write_text(
        '#!/bin/sh\necho "token=$VIGIL_INFLUX__TOKEN file=${INFLUX_TOKEN_FILE:-} $*"\n'
    )
    (fake_bin / "vigil").chmod(0o755)
    token = tmp_path / "vigil-rw.token"
    token.write_text("s3cr3t")
    env = {"PATH": f"{fake_bin}:{os.environ['PATH']}", "INFLUX_TOKEN_FILE": str(token)}
    run = subprocess.run(
        ["sh", str(DOCKER_DIR / "entrypoint.sh"), "worker", "--worker-id", "w1"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert run.stdout.strip() == "token=s3cr3t file= worker --worker-id w1"
    token.write_text("")
    failed = subprocess.run(
        ["sh", str(DOCKER_DIR / "entrypoint.sh"), "worker"], env=env, capture_output=True, text=True
    )
    assert failed.returncode == 1 and "missing or empty" in failed.stderr


def _fake_cli(bin_dir: Path, name: str, script: str) -> Path:
    """A stand-in for a CLI that logs its arguments (one call per line) and runs ``script``."""
    bin_dir.mkdir(exist_ok=True)
    log = bin_dir / f"{name}.calls"
    (bin_dir / name).write_text(f'#!/bin/sh\necho "$*" >> "{log}"\n{script}\n')
    (bin_dir / name).chmod(0o755)
    return log


def test_topic_script_creates_every_topic_idempotently(tmp_path: Path) -> None:
    log = _fake_cli(tmp_path, "kafka-topics.sh", "exit 0")
    env = {
        "PATH": os.environ["PATH"],
        "KAFKA_BIN": str(tmp_path),
        "KAFKA_BOOTSTRAP": "k:9092",
        "VIGIL_TOPICS__PARTITIONS": "4",
        "VIGIL_TOPICS__ALERTS": "site.alerts",
    }
    script = DOCKER_DIR.parent / "kafka" / "create-topics.sh"
    run = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, check=True)
    calls = log.read_text().splitlines()
    # every topic the settings name (the same defaults), the profiles topic compacted
    wanted = set(topic_names(Settings(topics={"alerts": "site.alerts"})))
    assert {c.split("--topic ")[1].split()[0] for c in calls} == wanted and len(calls) == len(wanted)
    assert f"{len(wanted)} topics present" in run.stdout
    assert any("--topic vigil.patient-profiles" in c and "cleanup.policy=compact" in c for c in calls)
    assert all("--create --if-not-exists" in c and "--partitions 4" in c and "k:9092" in c for c in calls)
    assert any("--topic site.alerts" in c and "retention.ms=2592000000" in c for c in calls)
    assert any("--topic vigil.dead-letter" in c for c in calls)


def test_topic_script_stops_at_the_first_failure(tmp_path: Path) -> None:
    _fake_cli(tmp_path, "kafka-topics.sh", "exit 3")
    env = {"PATH": os.environ["PATH"], "KAFKA_BIN": str(tmp_path)}
    run = subprocess.run(["bash", str(DOCKER_DIR.parent / "kafka" / "create-topics.sh")], env=env)
    assert run.returncode == 3


INFLUX_FAKE = """
case "$*" in
  "bucket list"*) printf 'b1234\\tvigil\\t2160h0m0s\\n' ;;
  "v1 dbrp list"*) [ -f "$(dirname "$0")/dbrp" ] && echo mapped ;;
  "v1 dbrp create"*) touch "$(dirname "$0")/dbrp" ;;
  "auth create"*) printf '{\\n\\t"id": "a1",\\n\\t"token": "tok-%s",\\n\\t"status": "active"\\n}\\n' "$$" ;;
esac
"""


def test_influx_init_maps_dbrp_and_writes_two_tokens_once(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    log = _fake_cli(bin_dir, "influx", INFLUX_FAKE)
    tokens = tmp_path / "tokens"
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "DOCKER_INFLUXDB_INIT_ORG": "vigil",
        "DOCKER_INFLUXDB_INIT_BUCKET": "vigil",
        "VIGIL_TOKEN_DIR": str(tokens),
    }
    script = DOCKER_DIR.parent / "influxdb" / "init" / "10-vigil.sh"
    for _ in range(2):  # a second run (container restart) changes nothing
        subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, check=True)
    calls = log.read_text().splitlines()
    assert sum("v1 dbrp create" in c for c in calls) == 1
    assert any("--bucket-id b1234 --db vigil --rp autogen --default" in c for c in calls)
    rw, ro = (tokens / "vigil-rw.token").read_text(), (tokens / "grafana-read.token").read_text()
    assert rw.startswith("tok-") and ro.startswith("tok-") and rw != ro and "\n" not in rw
    auth = [c for c in calls if c.startswith("auth create")]
    assert len(auth) == 2 and "--write-bucket b1234" in auth[0] and "--write-bucket" not in auth[1]
