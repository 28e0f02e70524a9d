"""The Faust floor: what a worker process costs before any of Vigil's own work.

``vigil bench pipeline`` runs ``python -m streams.floor COUNT`` beside its bare aiokafka loop: a
Faust app with the worker's options, transport and batching (:func:`streams.app.app_options`,
:mod:`streams.transport`, :func:`streams.batching.natural_batches`) and one agent that decodes each
record of the readings topic and acknowledges its batch. That is the detect agent without
detectors, outputs, sinks or checkpoints, so its readings/s bound what any Faust worker can do on
the machine, and ``floor / bare`` bounds the worker's ratio to the bare loop.

It reads the topic from its start under its own consumer group (the worker's app id plus
``-floor``), prints one JSON object (``floor_readings_per_s``: ``COUNT`` readings over the time from
its first batch to its last; ``floor_cpu_us_per_reading``: the process's CPU time, all threads, over
the same span) and stops.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import faust
import orjson

from streams.app import App, app_options
from streams.batching import natural_batches
from streams.codecs import RawSchema, decode_reading
from vigil.settings import Settings, load_settings


def floor_app(settings: Settings, count: int, datadir: Path) -> faust.App:
    """The floor app: its agent prints the result after ``count`` readings and stops the process."""
    options = app_options(settings, datadir) | {"store": "memory://", "web_enabled": False}
    app = App(f"{settings.worker.app_id}-floor", **options)
    topic = app.topic(settings.topics.readings, schema=RawSchema(), partitions=settings.topics.partitions)
    started: list[float] = []  # wall clock and CPU time at the first batch

    @app.agent(topic, name="floor")
    async def floor(stream: Any) -> None:
        seen = 0
        async for batch in natural_batches(stream, settings.worker.batch_size):
            if not started:
                started.extend((time.perf_counter(), time.process_time()))
            for event in batch.events:
                decode_reading(event.value)
            await batch.ack()
            seen += len(batch.events)
            if seen >= count:
                wall, cpu = time.perf_counter() - started[0], time.process_time() - started[1]
                result = {
                    "floor_readings_per_s": round(seen / max(wall, 1e-9), 1),
                    "floor_cpu_us_per_reading": round(cpu / seen * 1e6, 1),
                }
                sys.stdout.write(orjson.dumps(result).decode() + "\n")
                sys.stdout.flush()
                os.kill(os.getpid(), signal.SIGTERM)  # the worker's graceful stop
                return

    return app


def main(argv: list[str]) -> None:
    """``python -m streams.floor COUNT``: settings from the environment, as the worker's."""
    from faust.worker import Worker

    count = int(argv[0])
    settings = load_settings()
    with tempfile.TemporaryDirectory(prefix="vigil-floor-") as datadir:
        app = floor_app(settings, count, Path(datadir))
        Worker(app, loglevel="warning", quiet=True, redirect_stdouts=False).execute_from_commandline()


if __name__ == "__main__":
    main(sys.argv[1:])
