"""Smoke test: InfluxDB 1.8 takes gzip batch writes through its 2.x API and answers InfluxQL and Flux."""

from __future__ import annotations

from typing import Any

import pytest
from influxdb_client import Point, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS

from tests.integration.helpers import flux_query, influx_database, influx_query
from vigil.settings import Settings

POINTS = 1_000
PATIENTS = 10
START_NS = 1_700_000_000 * 10**9


def _batch() -> list[Point]:
    return [
        Point("smoke")
        .tag("patient", f"p{i % PATIENTS}")
        .field("value", float(i))
        .time(START_NS + i * 10**9, WritePrecision.NS)
        for i in range(POINTS)
    ]


def test_gzip_batch_write_then_influxql_and_flux_read_back(
    service_settings: Settings, influx_client: Any
) -> None:
    bucket = service_settings.influx.bucket
    influx_client.write_api(write_options=SYNCHRONOUS).write(bucket=bucket, record=_batch())

    (row,) = influx_query(service_settings, "SELECT count(value), sum(value) FROM smoke")
    assert (row["count"], row["sum"]) == (POINTS, sum(range(POINTS)))
    per_patient = influx_query(service_settings, "SELECT count(value) FROM smoke GROUP BY patient")
    assert {r["patient"]: r["count"] for r in per_patient} == {f"p{p}": POINTS // PATIENTS for p in range(10)}

    # Flux via /api/v2/query: the bucket is "<database>" or "<database>/<retention policy>".
    for flux_bucket in (bucket, f"{influx_database(service_settings)}/autogen"):
        records = flux_query(
            service_settings,
            f'from(bucket: "{flux_bucket}") |> range(start: 2023-01-01T00:00:00Z)'
            ' |> filter(fn: (r) => r._measurement == "smoke" and r._field == "value") |> count()',
        )
        assert {r["patient"]: r["_value"] for r in records} == {
            f"p{p}": POINTS // PATIENTS for p in range(10)
        }


def test_each_test_gets_its_own_empty_database(service_settings: Settings) -> None:
    database = influx_database(service_settings)
    assert database == service_settings.influx.bucket
    assert database in {r["name"] for r in influx_query(service_settings, "SHOW DATABASES")}
    assert influx_query(service_settings, "SHOW MEASUREMENTS") == []


async def test_the_workers_sink_stores_gzip_bodies_and_reports_a_bad_line(service_settings: Settings) -> None:
    from streams.influx_sink import InfluxRejected, InfluxSink

    sink = await InfluxSink(service_settings.influx).connect()
    try:
        lines = [f"sink,patient=p{i % PATIENTS} value={i}.0 {START_NS + i * 10**9}" for i in range(POINTS)]
        await sink.write(lines)
        with pytest.raises(InfluxRejected) as bad:
            await sink.write(["sink,patient=p1 value= 1"])
    finally:
        await sink.close()

    (row,) = influx_query(service_settings, "SELECT count(value), sum(value) FROM sink")
    assert (row["count"], row["sum"]) == (POINTS, sum(range(POINTS)))
    assert bad.value.status == 400 and bad.value.lines == b"sink,patient=p1 value= 1"
