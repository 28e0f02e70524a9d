"""Producer plumbing that needs no broker: completion counting, waiting, configuration."""

from __future__ import annotations

import threading

import pytest

from ingest.producer import (
    Done,
    MemorySink,
    ProduceError,
    _Countdown,
    compression_type,
    producer_config,
    wait_for,
)
from vigil.settings import Settings


def test_countdown_reports_once_after_all_or_first_failure() -> None:
    calls: list[BaseException | None] = []
    c = _Countdown(3, calls.append)
    c.ok()
    c.ok()
    assert calls == []
    c.ok()
    assert calls == [None]
    calls.clear()
    c = _Countdown(2, calls.append)
    err = RuntimeError("broker down")
    c.fail(err)
    c.ok()
    c.fail(err)
    assert calls == [err]
    _Countdown(0, calls.append)
    assert calls[-1] is None


def test_wait_for_raises_produce_error_on_failure_and_timeout() -> None:
    wait_for(lambda done: done(None), 1.0)
    with pytest.raises(ProduceError, match="refused"):
        wait_for(lambda done: done(RuntimeError("x")), 1.0)
    with pytest.raises(ProduceError, match="did not acknowledge"):
        wait_for(lambda done: None, 0.01)
    from_thread = threading.Event()

    def in_another_thread(done: Done) -> None:
        def finish() -> None:
            from_thread.set()
            done(None)

        threading.Thread(target=finish).start()

    wait_for(in_another_thread, 5.0)
    assert from_thread.is_set()


def test_producer_config_is_durable_and_batched() -> None:
    cfg = producer_config(Settings(kafka={"bootstrap_servers": "a:1,b:2"}))
    assert cfg["acks"] == "all" and cfg["enable_idempotence"] is True
    assert cfg["bootstrap_servers"] == ["a:1", "b:2"]
    assert cfg["compression_type"] == compression_type() in ("lz4", "gzip")
    assert cfg["linger_ms"] > 0 and cfg["batch_size"] >= 64 * 1024


def test_memory_sink_fails_like_kafka() -> None:
    sink = MemorySink()
    sink.fail = RuntimeError("down")
    with pytest.raises(ProduceError):
        sink.send_readings([])
    assert not sink.ready()


def test_the_stream_worker_can_read_what_the_ingest_producer_compresses() -> None:
    """The worker's consumer is aiokafka: it must have the codec kafka-python's producer picks."""
    from aiokafka import codec

    readable = {"gzip": codec.has_gzip, "lz4": codec.has_lz4, "snappy": codec.has_snappy}
    chosen = compression_type()
    assert readable[chosen](), f"aiokafka cannot decompress {chosen} (install cramjam)"
    payload = b"reading " * 200
    if chosen == "lz4":
        from kafka.codec import lz4_encode

        assert codec.lz4_decode(lz4_encode(payload)) == payload
