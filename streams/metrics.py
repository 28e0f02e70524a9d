"""Pipeline health counters of one worker, written periodically as ``pipeline`` points.

No patient ids or values here: only counts, rates and latencies.

>>> m = PipelineMetrics("w1")
>>> m.batch(readings=100, rejected=2, alerts=1, latency_s=0.05)
>>> m.readings, m.rejected, m.alerts, m.batch_latency_ms
(100, 2, 1, 50.0)
>>> m.point(now_s=10.0, since_s=0.0).to_line_protocol().split(" ")[0]
'pipeline,worker_id=w1'
"""

from __future__ import annotations

import time

from influxdb_client import Point

from streams import schema as s


class PipelineMetrics:
    """Cumulative counters plus the latest batch latency and consumer lag."""

    def __init__(self, worker_id: str) -> None:
        self.worker_id = worker_id
        self.readings = 0
        self.rejected = 0
        self.dead_letters = 0
        self.alerts = 0
        self.batch_latency_ms = 0.0
        self.consumer_lag = 0
        self.influx_retries = 0
        self.annotations_dropped = 0
        self.heartbeats = 0
        """Heartbeat records sent to silent readings partitions (:mod:`streams.heartbeats`)."""
        self.refetches = 0
        """Partitions fetched again because the consumer dropped records (:mod:`streams.health`)."""
        self._last_readings = 0

    def batch(
        self,
        *,
        readings: int = 0,
        rejected: int = 0,
        alerts: int = 0,
        dead_letters: int = 0,
        latency_s: float = 0.0,
    ) -> None:
        """Count one processed batch."""
        self.readings += readings
        self.rejected += rejected
        self.alerts += alerts
        self.dead_letters += dead_letters
        self.batch_latency_ms = round(latency_s * 1000.0, 3)

    def point(self, *, now_s: float | None = None, since_s: float) -> Point:
        """A ``pipeline`` point; ``readings_per_s`` covers the time since ``since_s`` (the previous point)."""
        now = time.time() if now_s is None else now_s
        rate = (self.readings - self._last_readings) / max(now - since_s, 1e-9)
        self._last_readings = self.readings
        return (
            Point(s.PIPELINE)
            .tag(s.TAG_WORKER, self.worker_id)
            .field(s.F_READINGS, self.readings)
            .field(s.F_REJECTED, self.rejected)
            .field(s.F_DEAD_LETTERS, self.dead_letters)
            .field(s.F_ALERTS, self.alerts)
            .field(s.F_READINGS_PER_S, round(rate, 3))
            .field(s.F_BATCH_LATENCY_MS, self.batch_latency_ms)
            .field(s.F_CONSUMER_LAG, self.consumer_lag)
            .field(s.F_INFLUX_RETRIES, self.influx_retries)
            .field(s.F_ANNOTATIONS_DROPPED, self.annotations_dropped)
            .field(s.F_HEARTBEATS, self.heartbeats)
            .field(s.F_REFETCHES, self.refetches)
            .time(int(now * 1e9))
        )
