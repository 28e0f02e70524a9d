"""Re-reading the records Faust's consumer skipped after a rebalance.

When a rebalance happens while records are in flight, faust-streaming 0.15 can resume a
partition this worker keeps *after* records that were fetched but never handed to the
agent, and count them as an offset gap that is safe to commit (measured: a second worker
joining mid-stream lost 60 of 600 readings, their offsets committed). Each agent knows the
last offset it applied per partition (a stateful one in the table with the state, the validate
agent in memory, starting from the group's committed offset, :func:`committed_offsets`, when it
first sees a partition), so a batch whose offsets on a partition jump (from that one, or between
two of its own) shows the hole;
:func:`read_range` fetches those records with a plain aiokafka consumer (no group, no
commit) and the batch is processed with them, in offset order. A range with no records
(compacted, expired, or transaction markers) yields nothing.

>>> ev = lambda p, o: RecordEvent(None, b"", {}, RecordMessage("t", p, o, 0))
>>> find_holes([ev(0, 7), ev(0, 8), ev(1, 3)], {0: 4, 1: 2})  # partition 0 misses offsets 5 and 6
[('t', 0, 5, 7)]
>>> find_holes([ev(0, 5), ev(0, 9), ev(0, 6)], {0: 4})  # 7 and 8 missing inside the batch
[('t', 0, 7, 9)]
>>> find_holes([ev(0, 5), ev(1, 2), ev(2, 9), ev(2, 10)], {0: 4, 1: 6})  # contiguous, replayed, new
[]
>>> find_holes([ev(0, 3)], {0: -1})  # -1: nothing applied yet, the partition's first record is 0
[('t', 0, 0, 3)]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from streams.app import ssl_context
from vigil.settings import KafkaSettings


@dataclass(frozen=True, slots=True)
class RecordMessage:
    """The part of a Faust ``Message`` the agents read."""

    topic: str
    partition: int
    offset: int
    timestamp: float


@dataclass(frozen=True, slots=True)
class RecordEvent:
    """A re-read record, shaped like the Faust events the agents take (key, value, headers, message)."""

    key: bytes | None
    value: bytes | None
    headers: Mapping[str, bytes]
    message: RecordMessage


Hole = tuple[str, int, int, int]
"""``(topic, partition, first missing offset, first present offset)``."""


def find_holes(events: Sequence[Any], applied: Mapping[int, int]) -> list[Hole]:
    """``(topic, partition, first missing, first present)`` for each run of offsets missing from
    ``events`` on a partition: between the offset ``applied`` to it (absent: not known, so no hole
    before the batch) and the batch's offsets, or between two of them."""
    offsets: dict[int, set[int]] = {}
    topics: dict[int, str] = {}
    for ev in events:
        m = ev.message
        offsets.setdefault(m.partition, set()).add(m.offset)
        topics[m.partition] = m.topic
    holes = []
    for p, present in offsets.items():
        previous = applied.get(p)
        for offset in sorted(present):
            if previous is not None and offset > previous + 1:
                holes.append((topics[p], p, previous + 1, offset))
            previous = offset if previous is None else max(previous, offset)
    return holes


def _consumer_security(kafka: KafkaSettings) -> dict[str, Any]:
    """``KafkaSettings.kafka_python_config()`` in aiokafka's terms: TLS as an ``ssl_context``."""
    cfg = {k: v for k, v in kafka.kafka_python_config().items() if not k.startswith("ssl_")}
    context = ssl_context(kafka)
    if context is not None:
        cfg["ssl_context"] = context
    return cfg


def _plain_consumer(kafka: KafkaSettings) -> Any:
    """An aiokafka consumer with no group and no commits, from the first record kept (not started)."""
    from aiokafka import AIOKafkaConsumer

    return AIOKafkaConsumer(
        bootstrap_servers=kafka.bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **_consumer_security(kafka),
    )


async def read_range(
    kafka: KafkaSettings, topic: str, partition: int, start: int, end: int
) -> list[RecordEvent]:
    """The records of ``topic``/``partition`` with ``start <= offset < end``, in offset order."""
    from aiokafka import TopicPartition

    tp = TopicPartition(topic, partition)
    consumer = _plain_consumer(kafka)
    await consumer.start()
    out: list[RecordEvent] = []
    try:
        consumer.assign([tp])
        consumer.seek(tp, start)
        while await consumer.position(tp) < end:
            batch = await consumer.getmany(tp, timeout_ms=5000, max_records=5000)
            if not batch:
                break  # nothing more to read before `end` (records compacted or expired)
            for rec in batch.get(tp, []):
                if rec.offset >= end:
                    break
                headers = {k: v for k, v in rec.headers or ()}
                out.append(
                    RecordEvent(
                        rec.key,
                        rec.value,
                        headers,
                        RecordMessage(topic, partition, rec.offset, rec.timestamp / 1000),
                    )
                )
    finally:
        await consumer.stop()
    return out


async def committed_offsets(
    kafka: KafkaSettings, group_id: str, topic: str, partitions: Iterable[int]
) -> dict[int, int]:
    """The consumer group's committed offset (the next record to read) of each of ``partitions`` of
    ``topic`` that has one."""
    from aiokafka import TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers, **_consumer_security(kafka))
    await admin.start()
    try:
        found = await admin.list_consumer_group_offsets(
            group_id, partitions=[TopicPartition(topic, p) for p in partitions]
        )
    finally:
        await admin.close()
    return {tp.partition: meta.offset for tp, meta in found.items() if meta.offset >= 0}


async def first_offsets(kafka: KafkaSettings, topic: str, partitions: Iterable[int]) -> dict[int, int]:
    """The log-start offset (the first record still kept) of each of ``partitions`` of ``topic``."""
    from aiokafka import TopicPartition

    consumer = _plain_consumer(kafka)
    await consumer.start()
    try:
        found = await consumer.beginning_offsets([TopicPartition(topic, p) for p in partitions])
    finally:
        await consumer.stop()
    return {tp.partition: offset for tp, offset in found.items()}
