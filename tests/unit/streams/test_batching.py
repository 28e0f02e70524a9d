"""Natural batching: a batch is what is waiting; its events are acknowledged when the caller says so."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Awaitable, Callable
from typing import Any

import faust
from mode.utils.logging import cry

from streams.batching import Batch, natural_batches
from tests.unit.streams.async_probes import wait_until


def batching_app(max_size: int, handled: list[list[bytes]], acked_before: list[int], **options: Any) -> Any:
    app = faust.App("batching-test", store="memory://", autodiscover=False, web_enabled=False)
    topic = app.topic("t", key_type=bytes, value_type=bytes, value_serializer="raw")

    @app.agent(topic)
    async def agent(stream: faust.StreamT) -> None:
        async for batch in natural_batches(stream, max_size, **options):
            acked_before.append(sum(1 for ev in batch.events if ev.message.acked))
            handled.append([ev.value for ev in batch.events])
            await batch.ack()

    return agent


async def test_what_is_waiting_goes_in_one_batch_and_a_lone_event_goes_at_once() -> None:
    handled: list[list[bytes]] = []
    acked_before: list[int] = []
    agent = batching_app(10, handled, acked_before)
    async with agent.test_context() as ctx:
        for i in range(3):
            await ctx.put(b"%d" % i, wait=False)  # queued before the agent runs
        await wait_until(lambda: len(handled) == 1)
        await ctx.put(b"3")
        await wait_until(lambda: len(handled) == 2)
    assert handled == [[b"0", b"1", b"2"], [b"3"]]
    assert acked_before == [0, 0]  # acknowledged only when the caller acknowledges the batch


async def test_a_batch_never_exceeds_max_size() -> None:
    handled: list[list[bytes]] = []
    agent = batching_app(2, handled, [])
    async with agent.test_context() as ctx:
        for i in range(5):
            await ctx.put(b"%d" % i, wait=False)
        await wait_until(lambda: sum(map(len, handled)) == 5)
    assert [len(b) for b in handled] == [2, 2, 1]


def holding_agent(
    name: str, on_batch: Callable[[Batch], Awaitable[None]] | None = None
) -> tuple[Any, list[int]]:
    """An agent that holds each batch unacknowledged (after awaiting ``on_batch`` with it), with an idle
    callback (limit 0.05 s while one is held) that acknowledges them; returns the agent and how many
    batches each idle call found."""
    app = faust.App(name, store="memory://", autodiscover=False, web_enabled=False)
    topic = app.topic("t", key_type=bytes, value_type=bytes, value_serializer="raw")
    held: list[Batch] = []
    idle_calls: list[int] = []

    async def finish_held() -> None:
        idle_calls.append(len(held))
        for batch in held:
            await batch.ack()
        held.clear()

    @app.agent(topic)
    async def agent(stream: faust.StreamT) -> None:
        idle = (lambda: 0.05 if held else None, finish_held)
        async for batch in natural_batches(stream, 10, idle=idle):
            if on_batch is not None:
                await on_batch(batch)
            held.append(batch)  # not acknowledged here

    return agent, idle_calls


async def test_unacknowledged_work_is_finished_when_no_event_comes() -> None:
    """The idle callback runs once the stream has been empty for the limit it asks for, and the
    iteration goes on afterwards."""
    agent, idle_calls = holding_agent("batching-idle")
    async with agent.test_context() as ctx:
        event = await ctx.put(b"a", wait=False)
        await wait_until(lambda: idle_calls == [1])
        assert event.message.acked
        await ctx.put(b"b", wait=False)
        await wait_until(lambda: idle_calls == [1, 1])


async def test_held_batches_are_finished_while_the_queue_holds_only_events_faust_drops() -> None:
    """When a rebalance begins, the stream's queue may hold events of the ended generation (Faust drops
    them as they are taken) or be cleared while the agent waits. The idle callback must run all the
    same: the rebalance waits for the held batches. Before, an agent that found events waiting waited
    for one without the callback, and held the group's rebalance until it was expelled (the kill -9
    test under CPU load: 3,334 readings unacknowledged for 70 s)."""
    gate = asyncio.Event()
    at_gate: list[Batch] = []

    async def wait_at_gate(batch: Batch) -> None:
        at_gate.append(batch)
        await gate.wait()  # the stale events are queued meanwhile

    agent, idle_calls = holding_agent("batching-stale", wait_at_gate)
    async with agent.test_context() as ctx:
        first = await ctx.put(b"a", wait=False)
        await wait_until(lambda: len(at_gate) == 1)  # the agent has taken "a" and waits in its body
        for value in (b"stale-1", b"stale-2"):
            stale = await ctx.put(value, wait=False)
            stale.message.generation_id = agent.app.consumer_generation_id - 1
        gate.set()
        await wait_until(lambda: idle_calls == [1])  # the old code waited here for a next event
        assert first.message.acked


async def test_a_batch_is_handed_over_when_faust_drops_an_event_of_an_ended_rebalance_generation() -> None:
    """Faust drops an event of an earlier consumer generation as it is taken; the events already in the
    batch then go at once. Before, the batch waited for a replacement with them held, unacknowledged,
    while the rebalance waited for their acknowledgement: a worker stalled until the group expelled it
    (seen in the kill -9 integration test)."""
    handled: list[list[bytes]] = []
    agent = batching_app(10, handled, [])
    async with agent.test_context() as ctx:
        for value in (b"0", b"1", b"stale"):
            event = await ctx.put(value, wait=False)
        event.message.generation_id = agent.app.consumer_generation_id - 1
        await wait_until(lambda: len(handled) == 1)  # the old code waited here for a next event
        await ctx.put(b"3", wait=False)
        await wait_until(lambda: len(handled) == 2)
    assert handled == [[b"0", b"1"], [b"3"]]


async def test_the_workers_task_dump_works_while_an_agent_waits_for_events() -> None:
    """mode's worker dumps every task's stack on SIGUSR1 (``cry``); a task awaiting anything but a
    coroutine made the dump raise and the worker crash (seen while debugging the kill -9 test)."""
    app = faust.App("batching-cry", store="memory://", autodiscover=False, web_enabled=False)
    topic = app.topic("t", key_type=bytes, value_type=bytes, value_serializer="raw")
    handled: list[Batch] = []

    @app.agent(topic)
    async def agent(stream: faust.StreamT) -> None:
        async for batch in natural_batches(stream, 10, idle=(lambda: 60.0, _never)):
            handled.append(batch)
            await batch.ack()

    async with agent.test_context() as ctx:
        await ctx.put(b"a", wait=False)
        await wait_until(lambda: len(handled) == 1)  # the agent now waits in the idle wait's task
        out = io.StringIO()
        cry(file=out)
    assert "_or_none" in out.getvalue()


async def _never() -> None:
    raise AssertionError("the idle limit is a minute; the test is over long before")
