"""Every ``vigil`` command line in docker-compose.yml and the Kubernetes manifests parses with the real CLI.

The deploy files are only checked statically here (no Docker engine, no cluster), so a renamed
option would otherwise surface only when a container crash-loops.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from vigil.cli import app

REPO = Path(__file__).resolve().parents[3]
VIGIL_IMAGE = "vigil:local"


def parse(args: list[str]) -> int:
    """Exit code of ``vigil ARGS --help``: 0 when the command and every option exist, 2 when not.

    Click parses the whole line before the eager ``--help`` runs, so an unknown command or
    option fails here exactly as it would in the container.
    """
    result = CliRunner().invoke(app, [*args, "--help"])
    return result.exit_code


def _compose_command_lines() -> Iterator[tuple[str, list[str]]]:
    doc: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
    for service, spec in doc["services"].items():
        if spec.get("image") != VIGIL_IMAGE:
            continue
        if "command" in spec:
            yield service, spec["command"]
        else:  # a shell line: `exec vigil-entrypoint ARGS $$VAR`, VAR from the service's environment
            line = spec["entrypoint"][-1].split("vigil-entrypoint", 1)[1]
            for name, value in (spec.get("environment") or {}).items():
                default = (
                    str(value).split(":-", 1)[-1].removesuffix("}") if "${" in str(value) else str(value)
                )
                line = line.replace(f"$${name}", default)
            yield service, shlex.split(line)


def _k8s_command_lines() -> Iterator[tuple[str, list[str]]]:
    for path in sorted((REPO / "deploy" / "k8s").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            spec = (doc or {}).get("spec", {})
            pod = spec.get("template", {}).get("spec", {}) or spec.get("jobTemplate", {}).get("spec", {})
            for container in pod.get("containers", []):
                if "args" in container:
                    args = [a.replace("$(POD_NAME)", "vigil-worker-0") for a in container["args"]]
                    yield f"{path.name}:{container['name']}", args


COMMAND_LINES = [*_compose_command_lines(), *_k8s_command_lines()]


def test_the_deploy_files_have_vigil_command_lines() -> None:
    names = {args[0] for _, args in COMMAND_LINES}
    assert {"gateway", "mqtt-bridge", "worker", "simulate", "grafana"} <= names


@pytest.mark.parametrize(("where", "args"), COMMAND_LINES, ids=[w for w, _ in COMMAND_LINES])
def test_command_line_parses(where: str, args: list[str]) -> None:
    assert parse(args) == 0, f"{where}: vigil {shlex.join(args)} does not parse"


def test_a_wrong_option_does_not_parse() -> None:
    assert parse(["worker", "--no-such-option", "1"]) == 2
    assert parse(["no-such-command"]) == 2
