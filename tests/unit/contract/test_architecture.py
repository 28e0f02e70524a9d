"""The package boundaries the README promises, checked on the source (imports parsed with ast)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
TRANSPORT = ("kafka", "aiokafka", "faust", "mode", "influxdb_client", "grafana_client", "paho", "aiomqtt")


def _imports(package: str) -> list[tuple[Path, str]]:
    found = []
    for path in (ROOT / package).rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found += [(path, alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.append((path, node.module))
    return found


def _top(module: str) -> str:
    return module.split(".")[0]


def test_detectors_is_a_pure_library() -> None:
    allowed_ingest = {"ingest.reading", "ingest.metrics", "ingest.episodes"}
    bad = [
        f"{p.relative_to(ROOT)}: {m}"
        for p, m in _imports("detectors")
        if _top(m) in (*TRANSPORT, "streams", "vigil") or (_top(m) == "ingest" and m not in allowed_ingest)
    ]
    assert not bad, "detectors/ must not import transport, streams, vigil or ingest beyond the contract"


def test_ingest_never_imports_streams_or_detectors() -> None:
    bad = [
        f"{p.relative_to(ROOT)}: {m}"
        for p, m in _imports("ingest")
        if _top(m) in ("streams", "detectors") or (_top(m) == "vigil" and m != "vigil.settings")
    ]
    assert not bad, bad


@pytest.mark.parametrize("package", ["ingest", "detectors", "streams", "vigil"])
def test_no_environment_lookups_outside_settings(package: str) -> None:
    offenders = []
    for path in (ROOT / package).rglob("*.py"):
        if path.name == "settings.py" and package == "vigil":
            continue
        text = path.read_text()
        if "os.environ" in text or "os.getenv" in text:
            offenders.append(str(path.relative_to(ROOT)))
    assert not offenders, f"configuration belongs in vigil/settings.py: {offenders}"
