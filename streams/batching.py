"""Natural batching of a Faust stream: a batch is whatever arrived while the last one was handled.

``stream.take_events(n, within=t)`` waits up to ``t`` for every batch to fill, and while a batch
is handled nothing is taken from the stream, so a reading waits for the timeout, then for its
batch, then for the readings queued behind that batch. :func:`natural_batches` hands over the
events as soon as the stream's queue is empty (or ``max_size`` are taken): an idle worker
handles a reading at once, a busy one gets larger batches because more readings queue up while
it works, which is when the per-batch costs are worth sharing. It needs the eager delivery of
:mod:`streams.transport`: with Faust's own, a message takes several event-loop turns to reach
the queue, which then looks empty between any two and the batches stay tiny.

Acknowledgements are manual and up to the caller: a :class:`Batch`'s events are acknowledged (so
Faust may commit their offsets) when it calls :meth:`Batch.ack`, which may be after later batches
were taken (a checkpoint of several batches, :mod:`streams.topology`). Until then a crash replays
them. ``idle`` (``(seconds, callback)``) runs the callback each time no event has arrived for that
long while no event can be taken (asked again after each call), so unacknowledged work is finished
even when nothing more comes (Faust waits for every started event to be acknowledged before a
rebalance or a shutdown completes) — also when events were waiting in the queue but a rebalance
cleared it or they belong to its ended generation.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import faust

from streams.eager import start_eagerly

Idle = tuple[Callable[[], float | None], Callable[[], Awaitable[None]]]
"""``(seconds to wait for an event before calling back, or None: no limit; the callback)``."""


@dataclass(slots=True)
class Batch:
    """Events taken together, and the stream that can acknowledge them."""

    events: list[Any]
    stream: Any

    async def ack(self) -> None:
        """Acknowledge every event of the batch (Faust may commit their offsets)."""
        for event in self.events:
            await self.stream.ack(event)


async def natural_batches(
    stream: faust.StreamT, max_size: int, *, idle: Idle | None = None
) -> AsyncIterator[Batch]:
    """Batches of at most ``max_size`` events of ``stream``, each yielded once no more are waiting.

    A batch never waits for its second or later event: events are taken while the stream's queue holds
    some, each taken without an event-loop turn (Faust's iterator offers one per event), and if taking
    one would wait after all, the batch is yielded and that wait becomes the next batch's first. (Faust
    drops an event whose rebalance generation is over as it is taken; waiting for a replacement with
    the batch's earlier events held would stall the rebalance, which waits for them to be acknowledged.)
    """
    waiting = stream.channel.queue  # type: ignore[attr-defined]
    manual = stream.noack()  # type: ignore[attr-defined]
    events = manual.events().__aiter__()
    pending: Awaitable[Any] | None = None  # the wait for the next event, begun while filling a batch
    while True:
        # always a coroutine (not ``anext(events, None)``): the idle wait runs it as a task, and mode's
        # task dump (SIGUSR1 to a worker) crashes the worker on a task of any other awaitable
        nxt = _or_none(pending if pending is not None else events.__anext__())
        pending = None
        if idle is None:
            first = await nxt
        else:
            # An event waiting in the queue is no promise: a rebalance clears the queue, and Faust drops
            # events of the ended generation as they are taken. Every wait must run the idle callback,
            # or batches held for a checkpoint stall the rebalance, which waits for them.
            taken, first = start_eagerly(nxt, through_bare_yields=True)
            if not taken:
                first = await _next_or_idle(_or_none(first), idle)
        if first is None:
            return
        batch = [first]
        while len(batch) < max_size and not waiting.empty():
            taken, event = start_eagerly(events.__anext__(), through_bare_yields=True)
            if not taken:
                pending = event
                break
            batch.append(event)
        yield Batch(batch, manual)


async def _or_none(rest: Awaitable[Any]) -> Any:
    """The event ``rest`` (an ``__anext__()``, maybe started) gives, or None when the stream has ended."""
    try:
        return await rest
    except StopAsyncIteration:
        return None


async def _next_or_idle(nxt: Awaitable[Any], idle: Idle) -> Any:
    """The event ``nxt`` gives; while none comes, ``idle``'s callback runs each time its limit passes."""
    limit, callback = idle
    waiter = asyncio.ensure_future(nxt)
    try:
        while (seconds := limit()) is not None:
            done, _ = await asyncio.wait({waiter}, timeout=max(0.0, seconds))
            if done:
                break
            await callback()
        return await waiter
    finally:
        waiter.cancel()
