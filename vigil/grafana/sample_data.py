"""Real pipeline output for a small simulated ward, as InfluxDB points (for tests and benchmarks).

A seeded cohort from the simulator runs through the worker's detect stage
(:mod:`streams.detect`); ``pipeline`` points come from :class:`streams.metrics.PipelineMetrics`.
Nothing here is hand-written data: only the simulator's seed and size are chosen.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from vigil.settings import Settings


def ward_points(
    settings: Settings, now: datetime, *, patients: int = 8, days: float = 3.0, seed: int = 3
) -> tuple[list[Any], list[str]]:
    """Points for ``patients`` simulated over the ``days`` before ``now``, and the patient ids."""
    from detectors.monitor import PatientMonitor, PatientState
    from ingest.simulator.cohort import simulate_cohort
    from ingest.simulator.config import CohortConfig
    from streams.detect import DetectStage, DictStateView
    from streams.partitioning import partition_for
    from streams.points import profile_point
    from vigil.tuning import monitor_config

    start = (now - timedelta(days=days)).replace(microsecond=0)
    config = CohortConfig(patients=patients, days=days, seed=seed, start=start, episode_rate=1.0)
    cohort = simulate_cohort(config)
    profiles = {p.patient_id: p for p in cohort.profiles}
    readings = [r for r in cohort.readings() if r.time <= now]
    stage = DetectStage(
        PatientMonitor(monitor_config(settings)),  # type: ignore[arg-type]
        PatientState.from_bytes,
        profile_for=profiles.__getitem__,
    )
    parts = settings.topics.partitions
    result = stage.run([(partition_for(r.patient_id.encode(), parts), r) for r in readings], DictStateView())
    points = [profile_point(p, start, "simulator") for p in profiles.values()]
    return points + result.points(settings.grafana.ack_base_url), sorted({r.patient_id for r in readings})


def pipeline_points(
    now: datetime, workers: Sequence[str] = ("worker-1", "worker-2"), minutes: int = 60
) -> list[Any]:
    """One ``pipeline`` point a minute per worker for the last ``minutes``, with counters that grow."""
    from streams.metrics import PipelineMetrics

    points = []
    for worker in workers:
        metrics = PipelineMetrics(worker)
        for i in range(minutes, -1, -1):
            metrics.batch(readings=500, rejected=i % 3, dead_letters=i % 2, alerts=1, latency_s=0.02)
            metrics.consumer_lag = 10 * i
            metrics.influx_retries += i % 5 == 0
            metrics.annotations_dropped += i % 7 == 0
            t = (now - timedelta(minutes=i)).timestamp()
            points.append(metrics.point(now_s=t, since_s=t - 60))
    return points


def write_points(settings: Settings, points: Sequence[Any]) -> None:
    """Write with the worker's own InfluxDB sink (batched, retried)."""
    from streams.influx_sink import InfluxSink

    async def write() -> None:
        sink = await InfluxSink(settings.influx).connect()
        try:
            await sink.write(points)
        finally:
            await sink.close()

    asyncio.run(write())
