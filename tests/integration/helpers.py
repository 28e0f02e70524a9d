"""Helpers for integration tests against the local services (``bash scripts/services.sh up``).

Import them as ``from tests.integration.helpers import create_topics, consume_all, wait_for``.
Every wait here has a deadline; ``wait_for`` is the one poll-with-deadline loop (shared with the
services script through ``deploy/local/probe.py``).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import httpx

from ingest.topics import topic_configs, topic_names
from vigil.settings import Settings

T = TypeVar("T")
REPO_ROOT = Path(__file__).resolve().parents[2]


def _load_probe_module() -> ModuleType:
    """``deploy/local/probe.py`` is a script, not a package: load it by path, once."""
    name = "vigil_local_probe"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "deploy" / "local" / "probe.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


probes = _load_probe_module()
"""``probes.probe_kafka(bootstrap)``, ``probes.probe_influxdb(url)``, ``probes.probe_mqtt("host:port")``:
``None`` when the service answers a real request, else the reason."""


def wait_for(predicate: Callable[[], T | None], timeout: float, interval: float = 0.05, what: str = "") -> T:
    """Poll ``predicate`` until it returns something truthy (returned) or raise ``TimeoutError``.

    >>> wait_for(lambda: 42, timeout=1)
    42
    """
    result: T = probes.wait_for(predicate, timeout, interval, what)
    return result


# --- Kafka -----------------------------------------------------------------------------------------


@contextmanager
def kafka_admin(settings: Settings, timeout_s: float = 30.0) -> Iterator[Any]:
    """A kafka-python ``KafkaAdminClient`` for ``settings``, closed on exit."""
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(
        bootstrap_servers=settings.kafka.bootstrap_list,
        client_id=f"{settings.kafka.client_id}-test-admin",
        request_timeout_ms=int(timeout_s * 1000),
        **settings.kafka.kafka_python_config(),
    )
    try:
        yield admin
    finally:
        admin.close()


def create_topics(
    settings: Settings, names: list[str] | None = None, partitions: int | None = None, timeout: float = 30.0
) -> list[str]:
    """Create ``names`` (default: every topic in ``settings.topics``) and wait until all are visible.

    ``partitions`` defaults to ``settings.topics.partitions``. Topics that already exist are left alone.
    Returns the names.
    """
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    wanted = list(names) if names is not None else topic_names(settings)
    count = partitions or settings.topics.partitions
    configs = topic_configs(settings)
    with kafka_admin(settings, timeout) as admin:
        for name in wanted:
            with suppress(TopicAlreadyExistsError):
                admin.create_topics(
                    [
                        NewTopic(
                            name,
                            count,
                            settings.topics.replication_factor,
                            topic_configs=configs.get(name, {}),
                        )
                    ],
                    timeout_ms=int(timeout * 1000),
                )
        wait_for(lambda: set(wanted) <= set(admin.list_topics()), timeout, 0.1, f"topics {wanted} visible")
    return wanted


def delete_topics(settings: Settings, prefix: str) -> list[str]:
    """Best-effort delete of every topic whose name starts with ``prefix``; returns those deleted."""
    with kafka_admin(settings) as admin:
        doomed = [t for t in admin.list_topics() if t.startswith(prefix)]
        if doomed:
            admin.delete_topics(doomed)
    return doomed


def consume_records(settings: Settings, topic: str, expected: int, timeout: float = 30.0) -> list[Any]:
    """Read ``topic`` from the beginning of every partition (no consumer group) until ``expected``
    records have arrived or ``timeout`` s pass; returns the kafka-python ``ConsumerRecord`` objects read
    (fewer than ``expected`` on timeout, so the caller's assertion shows how many came)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka.bootstrap_list,
        client_id=f"{settings.kafka.client_id}-test-consumer",
        group_id=None,
        enable_auto_commit=False,
        **settings.kafka.kafka_python_config(),
    )
    try:
        partitions = wait_for(lambda: consumer.partitions_for_topic(topic), timeout, 0.1, f"topic {topic}")
        assignment = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(assignment)
        consumer.seek_to_beginning(*assignment)
        records: list[Any] = []

        def enough() -> bool:
            for batch in consumer.poll(timeout_ms=100, max_records=max(1, expected - len(records))).values():
                records.extend(batch)
            return len(records) >= expected

        with suppress(TimeoutError):
            wait_for(enough, timeout, 0, f"{expected} records on {topic}")
        return records
    finally:
        consumer.close()


def consume_all(settings: Settings, topic: str, expected: int, timeout: float = 30.0) -> list[bytes]:
    """The values of :func:`consume_records` (``expected`` of them unless ``timeout`` passed first)."""
    return [r.value for r in consume_records(settings, topic, expected, timeout)]


# --- InfluxDB --------------------------------------------------------------------------------------


def influx_database(settings: Settings) -> str:
    """The InfluxDB 1.x database behind ``settings.influx.bucket`` (``"db"`` or ``"db/retention"``)."""
    return settings.influx.bucket.split("/", 1)[0]


def influx_client_for(settings: Settings) -> Any:
    """An ``influxdb_client.InfluxDBClient`` for ``settings.influx`` (gzip on); the caller closes it."""
    from influxdb_client import InfluxDBClient

    return InfluxDBClient(
        url=settings.influx.url,
        token=settings.influx.token.get_secret_value(),
        org=settings.influx.org,
        timeout=settings.influx.timeout_ms,
        enable_gzip=True,
    )


def influx_query(settings: Settings, influxql: str) -> list[dict[str, Any]]:
    """Run InfluxQL on ``/query?db=<bucket's database>``; one dict per row: the series' tags, ``"series"``
    (the measurement, for SELECT) and the columns (``"time"`` in epoch ns, values).

    Raises ``RuntimeError`` naming the statement if InfluxDB reports an error.
    """
    response = httpx.post(
        f"{settings.influx.url}/query",
        params={"db": influx_database(settings), "epoch": "ns"},
        data={"q": influxql},
        headers={"Authorization": f"Token {settings.influx.token.get_secret_value()}"},
        timeout=settings.influx.timeout_ms / 1000,
    )
    response.raise_for_status()
    rows: list[dict[str, Any]] = []
    for result in response.json().get("results", []):
        if "error" in result:
            raise RuntimeError(f"InfluxQL {influxql!r} failed: {result['error']}")
        for series in result.get("series", []):
            context = {"series": series.get("name"), **series.get("tags", {})}
            rows.extend(
                {**context, **dict(zip(series["columns"], values, strict=True))}
                for values in series["values"]
            )
    return rows


def flux_query(settings: Settings, flux: str) -> list[dict[str, Any]]:
    """Run Flux through the 2.x ``/api/v2/query`` endpoint (InfluxDB 1.8 with ``flux-enabled``);
    one dict per record (``_time``, ``_value``, ``_field``, ``_measurement``, tags, ...)."""
    with influx_client_for(settings) as client:
        tables = client.query_api().query(flux, org=settings.influx.org)
    return [dict(record.values) for table in tables for record in table.records]
