"""docker-compose.yml: valid Compose Specification, health-ordered, pinned, and free of baked-in secrets."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from vigil.settings import TopicSettings

REPO = Path(__file__).resolve().parents[3]
COMPOSE = REPO / "docker-compose.yml"
SCHEMA = REPO / "tests" / "schemas" / "compose-spec.json"
ONE_SHOT = {"kafka-init"}
SECRET_WORDS = re.compile(r"(PASSWORD|TOKEN|SECRET|KEY)$", re.IGNORECASE)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return doc


def _validator() -> jsonschema.Draft201909Validator:
    return jsonschema.Draft201909Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))


def test_compose_file_validates_against_the_compose_specification(compose: dict[str, Any]) -> None:
    errors = sorted(_validator().iter_errors(compose), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def test_the_schema_rejects_a_wrong_key(compose: dict[str, Any]) -> None:
    broken = json.loads(json.dumps(compose))
    broken["services"]["kafka"]["healthcheck"]["every"] = "10s"
    broken["services"]["worker-1"]["depends_on"]["kafka-init"]["condition"] = "service_ready"
    messages = [e.message for e in _validator().iter_errors(broken)]
    assert any("every" in m for m in messages) and any("service_ready" in m for m in messages)


def test_the_required_services_are_there(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {
        "kafka",
        "kafka-init",
        "influxdb",
        "grafana",
        "mosquitto",
        "gateway",
        "mqtt-bridge",
        "simulator",
    } <= set(services)
    workers = [n for n, s in services.items() if s.get("command", [None])[0] == "worker"]
    assert len(workers) == 2
    volumes = [v.split(":")[0] for n in workers for v in services[n]["volumes"]]
    assert len(set(volumes)) == len(volumes) - 1, "each worker has its own state volume (tokens shared)"


def test_every_long_running_service_has_a_health_check(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        if name in ONE_SHOT:
            assert service["restart"] == "no"
        else:
            assert service["healthcheck"]["test"], name


def test_the_workers_health_check_asks_what_the_worker_serves(
    compose: dict[str, Any], worker_health_paths: set[str]
) -> None:
    served = worker_health_paths
    workers = [s for name, s in compose["services"].items() if name.startswith("worker")]
    assert workers
    for service in workers:
        kind, url = service["healthcheck"]["test"][2:4]
        assert (kind, url) == ("http", "http://127.0.0.1:6066/health/live")
        assert "/health/live" in served


def test_dependencies_wait_for_health_or_completion(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        for dep, spec in service.get("depends_on", {}).items():
            wanted = "service_completed_successfully" if dep in ONE_SHOT else "service_healthy"
            assert spec == {"condition": wanted}, f"{name} -> {dep}"
            assert dep in services
    assert "kafka-init" in services["worker-1"]["depends_on"]


def test_images_are_pinned_and_kafka_matches_the_test_servers(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        image = service["image"]
        tag = image.rpartition(":")[2]
        assert ":" in image and tag not in {"latest", ""}, f"{name}: {image}"
        if "build" not in service:
            assert re.fullmatch(r"\d+(\.\d+){2}", tag), f"{name}: pin a full version, not {tag}"
    services_sh = (REPO / "scripts" / "services.sh").read_text(encoding="utf-8")
    test_kafka = re.search(r'^KAFKA_VERSION="([^"]+)"', services_sh, re.MULTILINE)
    assert test_kafka and compose["services"]["kafka"]["image"] == f"apache/kafka:{test_kafka.group(1)}"


def test_named_volumes_only(compose: dict[str, Any]) -> None:
    declared = set(compose["volumes"])
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert source.startswith("./deploy/") or source in declared, f"{name}: {volume}"


def test_no_secret_is_baked_in(compose: dict[str, Any]) -> None:
    """A secret-looking value is either a file path or ``${VAR:-local-only...}`` (a labelled demo default)."""
    text = COMPOSE.read_text(encoding="utf-8")
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if SECRET_WORDS.search(key):
                assert re.fullmatch(r"\$\{\w+:-local-only[\w-]*\}", str(value)), f"{name}.{key}={value}"
    assert "local-only" in text.split("services:")[0], "the file header explains the local-only defaults"


def test_env_example_documents_every_variable(compose: dict[str, Any]) -> None:
    lines = [line.split(" #")[0] for line in COMPOSE.read_text(encoding="utf-8").splitlines()]
    used = set(re.findall(r"\$\{(\w+)(?::?-)", "\n".join(x for x in lines if not x.lstrip().startswith("#"))))
    example = (REPO / ".env.example").read_text(encoding="utf-8")
    documented = set(re.findall(r"^(\w+)=", example, re.MULTILINE))
    assert used <= documented, f"add to .env.example: {sorted(used - documented)}"


def test_topic_script_defaults_match_settings() -> None:
    script = (REPO / "deploy" / "kafka" / "create-topics.sh").read_text(encoding="utf-8")
    defaults = dict(re.findall(r"\$\{VIGIL_TOPICS__(\w+):-([^}]+)\}", script))
    topics = TopicSettings()
    for field in (
        "raw",
        "readings",
        "scores",
        "alerts",
        "acks",
        "dead_letter",
        "profiles",
        "partitions",
        "replication_factor",
    ):
        assert defaults[field.upper()] == str(getattr(topics, field)), field


def test_the_services_environment_makes_valid_settings(compose: dict[str, Any], settings_from: Any) -> None:
    """Every ``VIGIL_*`` variable the Vigil containers get (``${VAR:-default}`` at its default) is a
    setting: a misspelt one under a section fails ``Settings``."""
    env = {k: v for k, v in compose["x-vigil-env"].items() if k.startswith("VIGIL_")}
    settings = settings_from({k: re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(v)) for k, v in env.items()})
    assert settings.kafka.bootstrap_servers == "kafka:9092"
    assert settings.mqtt.password is not None
