"""The worker's Faust app: events made without a settings lookup, a Monitor sensor that keeps only what
Faust reads back, and the garbage collector tuned when it starts (streams.app)."""

from __future__ import annotations

import gc
from types import SimpleNamespace

import faust
from faust.types import TP

from streams.app import App, LeanMonitor, create_app
from tests.unit.streams.async_probes import wait_until
from vigil.runtime import GC_THRESHOLDS
from vigil.settings import Settings


def test_the_worker_app_uses_both(tmp_path) -> None:
    app = create_app(Settings(worker={"store": "memory", "data_dir": tmp_path}), worker_id="t")
    assert type(app) is App and type(app.monitor) is LeanMonitor


def test_the_state_table_opens_rocksdb_with_small_write_buffers_and_cache(tmp_path) -> None:
    """Not Faust's 3 x 64 MiB write buffers and 2 GiB block cache a partition (docs/streams.md, "Memory")."""
    worker = {
        "store": "rocksdb",
        "data_dir": tmp_path,
        "rocksdb_write_buffer_mb": 8,
        "rocksdb_block_cache_mb": 4,
    }
    app = create_app(Settings(worker=worker), worker_id="t")
    store = app.vigil.table.data  # type: ignore[attr-defined]
    options = store.rocksdb_options
    assert (options.write_buffer_size, options.max_write_buffer_number, options.block_cache_size) == (
        8 * 2**20,
        2,
        4 * 2**20,
    )
    db = store._db_for_partition(0)  # the partition's database opens with them
    db[b"k"] = b"v"
    assert db[b"k"] == b"v"
    db.close()


async def test_the_garbage_collector_is_tuned_when_the_app_first_starts(tmp_path) -> None:
    """For ``vigil worker`` and ``faust -A streams.app worker`` alike: the app does it, not a command."""
    app = create_app(Settings(worker={"store": "memory", "data_dir": tmp_path}), worker_id="t")
    thresholds = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        await app.on_first_start()
        assert gc.get_threshold() == GC_THRESHOLDS
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


async def test_events_are_faust_events() -> None:
    app = App("lean-test", store="memory://", autodiscover=False, web_enabled=False)
    topic = app.topic("t", key_type=bytes, value_type=bytes, value_serializer="raw")
    seen: list[faust.EventT] = []

    @app.agent(topic)
    async def agent(stream: faust.StreamT) -> None:
        async for event in stream.events():
            seen.append(event)

    async with agent.test_context() as ctx:
        await ctx.put(b"v", key=b"k")
        await wait_until(lambda: bool(seen))
    assert type(seen[0]) is faust.Event and (seen[0].key, seen[0].value) == (b"k", b"v")


def test_the_monitor_keeps_the_slow_stream_clock_and_no_statistics() -> None:
    monitor = LeanMonitor()
    tp, message = TP("t", 3), SimpleNamespace(time_in=None)
    monitor.on_message_in(tp, 41, message)  # type: ignore[arg-type]
    state = monitor.on_stream_event_in(tp, 41, object(), object())  # type: ignore[arg-type]
    monitor.on_stream_event_out(tp, 41, object(), object(), state)  # type: ignore[arg-type]
    monitor.on_message_out(tp, 41, message)  # type: ignore[arg-type]
    # the aiokafka consumer's "stream stopped processing, or is slow" check reads this clock
    assert tp in monitor.stream_inbound_time
    assert monitor.events_total == monitor.messages_received_total == 0 and not monitor.events_by_stream
