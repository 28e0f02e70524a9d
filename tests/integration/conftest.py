"""Fixtures for tests against the real local services (``bash scripts/services.sh up``).

Each service fixture makes a real request first; an unreachable service skips the test with a
one-line reason, or fails it under ``CI=true`` (see ``tests/conftest.py``). Addresses come from
``Settings()`` (defaults = the services script's ports; ``VIGIL_KAFKA__BOOTSTRAP_SERVERS`` etc. override).

Isolation: ``service_settings`` gives each test its own topic names, InfluxDB database, Faust app id
and data dir, so tests can run against one shared set of servers without seeing each other's data.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from ingest.topics import TOPIC_FIELDS
from streams.worker import free_port
from tests.conftest import require_service
from tests.integration.helpers import delete_topics, influx_client_for, influx_query, probes
from vigil.settings import Settings, TopicSettings, WorkerSettings

SMOKE_PARTITIONS = 3


@cache
def _environment_settings() -> Settings:
    """Settings from defaults + ``VIGIL_*`` environment variables only (no ``.env`` file)."""
    return Settings()


@cache
def _probe(service: str, address: str) -> str | None:
    """Probe each service once per test session (``None`` = it answered)."""
    probe = {"kafka": probes.probe_kafka, "influxdb": probes.probe_influxdb, "mosquitto": probes.probe_mqtt}
    result: str | None = probe[service](address, 5.0)
    return result


def _require(service: str, address: str) -> str:
    reason = _probe(service, address)
    require_service(service, reason is None, reason or "")
    return address


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """``"127.0.0.1:19092"`` (the configured bootstrap servers) once a metadata request succeeds."""
    return _require("kafka", _environment_settings().kafka.bootstrap_servers)


@pytest.fixture(scope="session")
def influx_url() -> str:
    """``"http://127.0.0.1:18086"`` once ``/ping`` and ``/health`` answer."""
    return _require("influxdb", _environment_settings().influx.url)


@pytest.fixture(scope="session")
def mqtt_address() -> tuple[str, int]:
    """``("127.0.0.1", 11883)`` once a QoS 1 publish/subscribe round trip works."""
    mqtt = _environment_settings().mqtt
    _require("mosquitto", f"{mqtt.host}:{mqtt.port}")
    return mqtt.host, mqtt.port


@pytest.fixture
def unique_name(request: pytest.FixtureRequest) -> str:
    """``t-<test-name-slug>-<8 hex>``: a valid Kafka topic prefix, InfluxDB database and Faust app id."""
    slug = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower()).strip("-")[:40].strip("-")
    return f"t-{slug}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def service_settings(
    kafka_bootstrap: str, influx_url: str, unique_name: str, tmp_path: Path
) -> Iterator[Settings]:
    """Settings for the local services, private to this test.

    - topics: ``<unique_name>.<default name>`` for all six, 3 partitions (NOT created: call
      ``helpers.create_topics(settings)``); every topic starting with ``unique_name`` (including
      Faust's changelog/repartition topics) is deleted afterwards, best-effort;
    - InfluxDB: bucket = a database named ``unique_name``, created now and dropped afterwards;
    - worker: ``app_id = unique_name``, ``data_dir`` under ``tmp_path``, a free web port.
    """
    base = _environment_settings()
    defaults = TopicSettings()
    settings = Settings(
        environment="test",
        log_level=base.log_level,
        kafka=base.kafka.model_copy(update={"bootstrap_servers": kafka_bootstrap, "client_id": unique_name}),
        topics=TopicSettings(
            **{field: f"{unique_name}.{getattr(defaults, field)}" for field in TOPIC_FIELDS},
            partitions=SMOKE_PARTITIONS,
            replication_factor=1,
        ),
        influx=base.influx.model_copy(update={"url": influx_url, "bucket": unique_name}),
        grafana=base.grafana,
        mqtt=base.mqtt,
        gateway=base.gateway,
        detectors=base.detectors,
        worker=WorkerSettings(
            app_id=unique_name, data_dir=tmp_path / "worker", web_port=free_port(), web_host="127.0.0.1"
        ),
    )
    influx_query(settings, f'CREATE DATABASE "{unique_name}"')
    try:
        yield settings
    finally:
        try:
            influx_query(settings, f'DROP DATABASE "{unique_name}"')
        finally:
            try:
                delete_topics(settings, unique_name)
            except Exception as exc:  # best-effort: a leftover test topic must not fail the test
                print(f"could not delete test topics {unique_name}*: {exc}")


@pytest.fixture
def influx_client(service_settings: Settings) -> Iterator[Any]:
    """An ``influxdb_client.InfluxDBClient`` for ``service_settings`` (gzip on), closed afterwards."""
    client = influx_client_for(service_settings)
    try:
        yield client
    finally:
        client.close()
