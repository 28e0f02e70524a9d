"""``--influx``: the in-process results of a demo or replay also written to InfluxDB.

The same points as the stream worker writes (:meth:`streams.detect.StageResult.points`:
scored readings, NEWS2, alert transitions), through the same batched, idempotent
:class:`streams.influx_sink.InfluxSink`, driven from this synchronous run on a private
event loop. A write that does not succeed within ``timeout_s`` stops the run with a
clear error instead of retrying forever as the worker does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from detectors.events import AlertEvent
from detectors.monitor import MonitorOutput
from ingest.reading import Reading
from streams.detect import StageResult
from streams.influx_sink import InfluxSink
from vigil.settings import Settings


class InfluxUnavailable(RuntimeError):
    """InfluxDB did not accept a batch in time."""


class InfluxResults:
    """A result sink batching points and writing them with :class:`InfluxSink`."""

    def __init__(
        self, settings: Settings, *, timeout_s: float = 30.0, sink: InfluxSink | None = None
    ) -> None:
        self._settings = settings
        self._timeout_s = timeout_s
        self._loop = asyncio.new_event_loop()
        self._sink = self._loop.run_until_complete((sink or InfluxSink(settings.influx)).connect())
        self._batch = StageResult()
        self._held = 0
        self.points_written = 0

    def output(self, reading: Reading, out: MonitorOutput) -> None:
        if out.scored is not None:
            self._batch.readings.append((reading, out.scored))
            self._held += 1
            if out.news2 is not None:
                self._batch.news2.append((reading, out.news2))
                self._held += 1
        if self._held >= self._settings.influx.batch_size:
            self.flush()

    def events(self, events: Iterable[AlertEvent]) -> None:
        before = len(self._batch.events)
        self._batch.events.extend(events)
        self._held += len(self._batch.events) - before

    def flush(self) -> None:
        points = self._batch.points(self._settings.grafana.ack_base_url)
        self._batch, self._held = StageResult(), 0
        if not points:
            return
        try:
            self._loop.run_until_complete(asyncio.wait_for(self._sink.write(points), self._timeout_s))
        except TimeoutError as exc:
            raise InfluxUnavailable(
                f"influx: no write accepted within {self._timeout_s:g} s at {self._settings.influx.url} "
                f"(bucket {self._settings.influx.bucket}); is it running (scripts/services.sh up)?"
            ) from exc
        self.points_written += len(points)

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self._loop.run_until_complete(self._sink.close())
            self._loop.close()


@contextmanager
def influx_results(settings: Settings) -> Iterator[list[InfluxResults]]:
    """An :class:`InfluxResults` sink (as a one-element sink list) that is flushed and closed on exit."""
    sink = InfluxResults(settings)
    try:
        yield [sink]
    finally:
        sink.close()
