"""The ``vigil://`` transport: eager delivery keeps the semantics of awaiting the coroutine."""

from __future__ import annotations

import asyncio

import faust.transport.drivers
import pytest

from streams.eager import start_eagerly
from streams.transport import Transport


def test_the_vigil_scheme_resolves_to_our_transport() -> None:
    assert faust.transport.drivers.by_url("vigil://127.0.0.1:9092") is Transport


async def test_a_coroutine_that_does_not_wait_finishes_without_the_loop() -> None:
    log: list[str] = []

    async def deliver() -> str:
        log.append("ran")
        return "done"

    assert start_eagerly(deliver()) == (True, "done")
    assert log == ["ran"]


async def test_a_coroutine_that_waits_is_finished_by_awaiting_the_rest() -> None:
    gate: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def deliver() -> int:
        before = await gate
        await asyncio.sleep(0)  # a bare yield after the first wait
        return before + 1

    done, rest = start_eagerly(deliver())
    assert not done
    asyncio.get_running_loop().call_soon(gate.set_result, 41)
    assert await rest == 42


async def test_an_exception_after_the_first_wait_reaches_the_awaiter() -> None:
    queue: asyncio.Queue[int] = asyncio.Queue()

    async def deliver() -> None:
        await queue.get()
        raise ValueError("bad record")

    done, rest = start_eagerly(deliver())
    assert not done
    queue.put_nowait(1)
    with pytest.raises(ValueError, match="bad record"):
        await rest


async def test_cancelling_the_rest_cancels_the_coroutine_where_it_waits() -> None:
    queue: asyncio.Queue[int] = asyncio.Queue(maxsize=1)
    queue.put_nowait(0)
    cleaned: list[str] = []

    async def deliver() -> None:
        try:
            await queue.put(1)  # full: waits
        except asyncio.CancelledError:
            cleaned.append("cancelled")
            raise

    done, rest = start_eagerly(deliver())
    assert not done

    async def finish() -> None:
        await rest

    task = asyncio.ensure_future(finish())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cleaned == ["cancelled"]
    assert queue.qsize() == 1  # the cancelled put left nothing behind


async def test_the_worker_consumer_uses_the_configured_fetch_wait(tmp_path) -> None:
    from streams.app import create_app
    from vigil.settings import Settings

    settings = Settings(worker={"store": "memory", "data_dir": tmp_path, "fetch_max_wait_ms": 37})
    app = create_app(settings, worker_id="t")
    assert isinstance(app.transport, Transport)
    kafka_consumer = app.consumer._thread._create_worker_consumer(app.transport)
    try:
        assert kafka_consumer._fetch_max_wait_ms == 37  # Faust's own driver: 1500
    finally:
        await kafka_consumer.stop()  # never started: only releases its client


async def test_faust_registers_no_gap_until_the_agent_releases_it(tmp_path) -> None:
    """A range Faust did not deliver is not committable until an agent has read it again."""
    from faust.types import TP

    from streams.app import create_app
    from vigil.settings import Settings

    app = create_app(Settings(worker={"store": "memory", "data_dir": tmp_path}), worker_id="t")
    consumer, tp = app.consumer, TP("vigil.readings", 0)
    await consumer._add_gap(tp, 5, 9)  # what Faust's fetch loop calls when offset 9 follows offset 4
    assert not consumer._gap[tp]
    await consumer.release_gap(tp, 5, 9)  # offsets 5..8 read again and handled
    assert sorted((i.begin, i.end) for i in consumer._gap[tp]) == [(5, 9)]


async def test_after_a_rebalance_agent_partitions_with_no_committed_offset_go_back_to_their_start(
    tmp_path, monkeypatch
) -> None:
    """aiokafka's seek to the committed offsets leaves a partition with none (or 0) where it is: past the
    records Faust fetched and dropped while the rebalance paused it, never to be read (the intermittent
    kill -9 failure). Such agent partitions go back to their first offset; changelogs are Faust's."""
    from aiokafka import TopicPartition

    from streams.app import create_app
    from vigil.settings import Settings

    app = create_app(Settings(worker={"store": "memory", "data_dir": tmp_path}), worker_id="t")
    raw = app.vigil.raw.get_topic_name()
    committed = {
        TopicPartition(raw, 0): 120,
        TopicPartition(raw, 1): None,
        TopicPartition(raw, 2): 0,
        TopicPartition("t-patient-state-changelog", 1): None,
    }
    sought: list[TopicPartition] = []

    class StandInKafkaConsumer:
        async def seek_to_committed(self) -> dict[TopicPartition, int | None]:
            return committed

        async def seek_to_beginning(self, *tps: TopicPartition) -> bool:
            sought.extend(tps)
            return True

    async def in_this_loop(fun, *args):
        return await fun(*args)

    thread = app.consumer._thread
    monkeypatch.setattr(thread, "_ensure_consumer", StandInKafkaConsumer)
    monkeypatch.setattr(thread, "call_thread", in_this_loop)
    assert await thread.seek_to_committed() == committed
    assert sought == [TopicPartition(raw, 1), TopicPartition(raw, 2)]


async def test_the_producer_buffer_counts_its_queue_without_asking_the_settings(tmp_path) -> None:
    from streams.app import create_app
    from streams.transport import ProducerBuffer
    from vigil.settings import Settings

    app = create_app(Settings(worker={"store": "memory", "data_dir": tmp_path}), worker_id="t")
    buffer = app.producer.buffer
    assert type(buffer) is ProducerBuffer and buffer.app is app
    assert buffer.size == 0
    for _ in range(3):
        buffer.pending.put_nowait(asyncio.get_running_loop().create_future())
    with pytest.warns(UserWarning, match="already used"):
        app.conf.producer_threaded = True  # asked no more: the size is the queue's
    assert buffer.size == 3


def test_a_threaded_producer_is_refused(tmp_path) -> None:
    from streams.app import create_app
    from vigil.settings import Settings

    app = create_app(Settings(worker={"store": "memory", "data_dir": tmp_path}), worker_id="t")
    app.conf.producer_threaded = True
    with pytest.raises(ValueError, match="producer_threaded"):
        app.producer  # noqa: B018
