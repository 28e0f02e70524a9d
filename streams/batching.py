"""Natural batching of a Faust stream: a batch is whatever arrived while the last one was handled.

``stream.take_events(n, within=t)`` waits up to ``t`` for every batch to fill, and while a batch
is handled nothing is taken from the stream, so a reading waits for the timeout, then for its
batch, then for the readings queued behind that batch. :func:`natural_batches` hands over the
events as soon as the stream's queue is empty (or ``max_size`` are taken): an idle worker
handles a reading at once, a busy one gets larger batches because more readings queue up while
it works, which is when the per-batch costs (an InfluxDB round trip, one delivery wait, one
table write per changed patient) are worth sharing. It needs the eager delivery of
:mod:`streams.transport`: with Faust's own, a message takes several event-loop turns to reach
the queue, which then looks empty between any two and the batches stay tiny.

Acknowledgements are manual, as in ``take_events``: a batch's events are acknowledged (so Faust
may commit their offsets) when the caller asks for the next batch, that is after it has
finished with this one; a crash before that replays the batch.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import faust


async def natural_batches(stream: faust.StreamT, max_size: int) -> AsyncIterator[list[Any]]:
    """Lists of at most ``max_size`` events of ``stream``, each yielded once no more are waiting."""
    waiting = stream.channel.queue  # type: ignore[attr-defined]
    manual = stream.noack()  # type: ignore[attr-defined]
    batch: list[Any] = []
    async for event in manual.events():
        batch.append(event)
        if len(batch) < max_size and not waiting.empty():
            continue
        yield batch
        for done in batch:
            await manual.ack(done)
        batch = []
