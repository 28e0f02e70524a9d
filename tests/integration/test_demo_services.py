"""``vigil demo --kafka`` and ``--influx`` against the local Kafka and InfluxDB."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from ingest.producer import KafkaSink
from ingest.reading import Reading
from tests.integration.helpers import consume_all, create_topics, influx_query
from vigil.demo import DemoOptions, run_demo, send_demo_to_kafka
from vigil.influx_results import InfluxResults
from vigil.settings import Settings


def test_demo_kafka_sends_every_simulated_reading(service_settings: Settings, tmp_path: Path) -> None:
    create_topics(service_settings, [service_settings.topics.readings])
    sink = KafkaSink(service_settings)
    try:
        sent = send_demo_to_kafka(
            DemoOptions(out=tmp_path, patients=2, days=0.05, seed=4), sink, Console(quiet=True)
        )
    finally:
        sink.close()
    values = consume_all(service_settings, service_settings.topics.readings, expected=sent)
    readings = [Reading.from_json(v) for v in values]
    assert len(readings) == sent > 0
    assert {r.patient_id for r in readings} == {"sim-000000", "sim-000001"}


def test_demo_influx_writes_one_reading_point_per_scored_reading(
    service_settings: Settings, tmp_path: Path
) -> None:
    results = InfluxResults(service_settings)
    try:
        opts = DemoOptions(out=tmp_path, patients=3, days=0.1, seed=4, report=False)
        run = run_demo(opts, service_settings, Console(quiet=True), extra_sinks=[results])
    finally:
        results.close()
    rows = influx_query(service_settings, 'SELECT count("value") FROM "reading"')
    assert rows and rows[0]["count"] == run.summary.scored > 0
