"""The *Pipeline health* board: throughput, consumer lag, dead letters, sink latency, workers.

>>> board = pipeline_dashboard()
>>> board["uid"], len(board["panels"]) > 5
('vigil-pipeline', True)
"""

from __future__ import annotations

from typing import Any

from streams import schema as s
from vigil.grafana import influxql as q
from vigil.grafana.panels import Json, dashboard, dashboard_link, row, stat, target, thresholds, timeseries

UID = "vigil-pipeline"
WORKER_ALIAS = f"$tag_{s.TAG_WORKER}"
LIVE_WINDOW = "2m"
"""A worker that has not reported for this long is not counted as running."""


def per_worker(aggregate: str, field: str) -> str:
    """``aggregate(field)`` per interval and worker."""
    return q.select_where(
        s.PIPELINE, [f'{aggregate}("{field}")'], group_by=[s.TAG_WORKER], by_time=q.INTERVAL, fill="null"
    )


def rate_per_worker(counter: str) -> str:
    """Per-second rate of a cumulative counter, per worker (restarts do not go negative)."""
    return q.select_where(
        s.PIPELINE,
        [f'non_negative_derivative(max("{counter}"), 1s)'],
        group_by=[s.TAG_WORKER],
        by_time=q.INTERVAL,
        fill="null",
    )


def workers_running() -> str:
    """How many workers reported within :data:`LIVE_WINDOW`."""
    inner = q.select_where(
        s.PIPELINE,
        [f'last("{s.F_READINGS_PER_S}") AS "r"'],
        group_by=[s.TAG_WORKER],
        time_filter=f"time > now() - {LIVE_WINDOW}",
    )
    return f'SELECT count("r") FROM ({inner})'


def total_now(field: str, aggregate: str = "sum") -> str:
    """``aggregate`` over workers of each worker's latest ``field``."""
    inner = q.select_where(
        s.PIPELINE,
        [f'last("{field}") AS "v"'],
        group_by=[s.TAG_WORKER],
        time_filter=f"time > now() - {LIVE_WINDOW}",
    )
    return f'SELECT {aggregate}("v") FROM ({inner})'


def _by_worker(title: str, query: str, unit: str, **options: Any) -> Json:
    return timeseries(title, [target("A", query, alias=WORKER_ALIAS)], unit=unit, **options)


def _now(title: str, field: str, aggregate: str, unit: str, steps: Json) -> Json:
    return stat(title, [target("A", total_now(field, aggregate))], unit=unit, threshold_steps=steps)


def pipeline_dashboard() -> Json:
    """The pipeline health dashboard model."""
    workers = stat(
        "Workers running",
        [target("A", workers_running())],
        no_value="0",
        threshold_steps=thresholds((None, "red"), (1, "green")),
    )
    dead_letters = timeseries(
        "Dead letters/s",
        [
            target("A", rate_per_worker(s.F_DEAD_LETTERS), alias=WORKER_ALIAS),
            target("B", rate_per_worker(s.F_REJECTED), alias=f"rejected {WORKER_ALIAS}"),
        ],
        unit="reqps",
        description="Rejected readings sent to the dead-letter topic, per second.",
    )
    lag_steps = thresholds((None, "green"), (1000, "orange"), (10000, "red"))
    latency_steps = thresholds((None, "green"), (1000, "orange"), (5000, "red"))
    panels: list[tuple[Json, int, int]] = [
        (row("Now"), 24, 1),
        (workers, 6, 4),
        (
            _now("Readings/s (all workers)", s.F_READINGS_PER_S, "sum", "reqps", thresholds((None, "blue"))),
            6,
            4,
        ),
        (_now("Consumer lag (max)", s.F_CONSUMER_LAG, "max", "short", lag_steps), 6, 4),
        (_now("Sink batch latency (max)", s.F_BATCH_LATENCY_MS, "max", "ms", latency_steps), 6, 4),
        (row("Over time"), 24, 1),
        (
            _by_worker("Readings/s by worker", per_worker("mean", s.F_READINGS_PER_S), "reqps", stack=True),
            12,
            8,
        ),
        (_by_worker("Consumer lag by worker", per_worker("max", s.F_CONSUMER_LAG), "short"), 12, 8),
        (dead_letters, 12, 8),
        (_by_worker("Sink batch latency", per_worker("max", s.F_BATCH_LATENCY_MS), "ms"), 12, 8),
        (_by_worker("Alerts/s", rate_per_worker(s.F_ALERTS), "reqps"), 6, 8),
        (_by_worker("InfluxDB write retries/s", rate_per_worker(s.F_INFLUX_RETRIES), "reqps"), 6, 8),
        (
            _by_worker("Grafana annotations dropped/s", rate_per_worker(s.F_ANNOTATIONS_DROPPED), "reqps"),
            6,
            8,
        ),
        # a worker sends heartbeats only to readings partitions no reading reaches (streams.heartbeats)
        (_by_worker("Heartbeats to silent partitions/s", rate_per_worker(s.F_HEARTBEATS), "reqps"), 6, 8),
        # records faust fetched and dropped at a rebalance, fetched again by the watchdog (streams.health)
        (_by_worker("Partitions re-fetched/s", rate_per_worker(s.F_REFETCHES), "reqps"), 6, 8),
    ]
    return dashboard(
        UID,
        "Vigil · Pipeline health",
        panels,
        refresh="10s",
        time_from="now-1h",
        description="Throughput, consumer lag, dead letters and sink latency of the workers.",
        links=[dashboard_link("Virtual ward overview", "vigil-ward")],
    )
