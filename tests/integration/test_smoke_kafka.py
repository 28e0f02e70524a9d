"""Smoke test: the local Kafka broker works for both clients Vigil uses.

kafka-python (the ingest producer) writes keyed records to a 3-partition topic; aiokafka (under
Faust) reads them all back, and both clients agree on which partition each key belongs to, which
Vigil relies on to keep one patient's readings in order on one partition.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.partitioner import DefaultPartitioner
from kafka import KafkaProducer

from tests.integration.helpers import consume_records, create_topics
from vigil.settings import Settings

KEYS = [f"patient-{i:02d}".encode() for i in range(20)]
PER_KEY = 15


def produce_keyed(settings: Settings, topic: str) -> dict[bytes, set[int]]:
    """Send PER_KEY records per key with kafka-python; return the partitions the broker reported."""
    producer = KafkaProducer(
        bootstrap_servers=settings.kafka.bootstrap_list, acks="all", **settings.kafka.kafka_python_config()
    )
    try:
        futures = [
            (key, producer.send(topic, key=key, value=key + b":" + str(n).encode()))
            for n in range(PER_KEY)
            for key in KEYS
        ]
        producer.flush(timeout=30)
        placed: dict[bytes, set[int]] = defaultdict(set)
        for key, future in futures:
            placed[key].add(future.get(timeout=30).partition)
        return placed
    finally:
        producer.close(timeout=10)


async def _consume_with_aiokafka(
    settings: Settings, topic: str, expected: int
) -> list[tuple[bytes, int, bytes]]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka.bootstrap_servers,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    received: list[tuple[bytes, int, bytes]] = []
    try:
        async with asyncio.timeout(30):
            async for message in consumer:
                assert message.key is not None and message.value is not None
                received.append((message.key, message.partition, message.value))
                if len(received) == expected:
                    break
    finally:
        await consumer.stop()
    return received


async def test_kafka_python_to_aiokafka_round_trip_keeps_keys_on_partitions(
    service_settings: Settings,
) -> None:
    topic = service_settings.topics.raw
    create_topics(service_settings, [topic], partitions=3)
    placed = produce_keyed(service_settings, topic)

    assert all(len(partitions) == 1 for partitions in placed.values()), placed
    partition_of = {key: next(iter(partitions)) for key, partitions in placed.items()}
    assert len(set(partition_of.values())) > 1, "20 keys should spread over more than one of 3 partitions"
    aiokafka_partitioner = DefaultPartitioner()
    assert partition_of == {key: aiokafka_partitioner(key, [0, 1, 2], [0, 1, 2]) for key in KEYS}

    expected = len(KEYS) * PER_KEY
    received = await _consume_with_aiokafka(service_settings, topic, expected)
    assert len(received) == expected
    assert all(partition == partition_of[key] for key, partition, _ in received)
    assert sorted(value for _, _, value in received) == sorted(
        key + b":" + str(n).encode() for key in KEYS for n in range(PER_KEY)
    )
    per_key_order = defaultdict(list)
    for key, _, value in received:
        per_key_order[key].append(int(value.rsplit(b":", 1)[1]))
    assert all(order == list(range(PER_KEY)) for order in per_key_order.values()), "per-key order lost"


def test_consume_all_reads_every_partition_and_stops_at_expected(service_settings: Settings) -> None:
    topic = service_settings.topics.dead_letter
    create_topics(service_settings, [topic])
    placed = produce_keyed(service_settings, topic)
    expected = len(KEYS) * PER_KEY

    records = consume_records(service_settings, topic, expected=expected, timeout=30)
    assert len(records) == expected
    assert {r.partition for r in records} == {p for ps in placed.values() for p in ps}
    assert len(consume_records(service_settings, topic, expected=5)) == 5, "must stop at `expected`"
    # Asking for more than exists returns what is there once the deadline passes.
    assert len(consume_records(service_settings, topic, expected=expected + 1, timeout=2)) == expected


def test_ensure_topics_creates_what_vigil_needs_and_warns_about_what_it_cannot_fix(
    service_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    from kafka.admin import NewTopic

    from ingest.topics import ensure_topics, topic_problems
    from tests.integration.helpers import kafka_admin

    s = service_settings
    with kafka_admin(s) as admin:
        # as a broker's auto-creation would leave them: default partitions, delete policy
        admin.create_topics([NewTopic(s.topics.readings, 1, 1), NewTopic(s.topics.profiles, 3, 1)])
    with caplog.at_level(logging.WARNING, logger="ingest.topics"):
        created = ensure_topics(s)
    assert s.topics.readings not in created and s.topics.profiles not in created
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(f"{s.topics.readings} has 1 partitions, settings say 3" in w for w in warnings), warnings
    assert any(f"{s.topics.profiles} has cleanup.policy=delete" in w for w in warnings), warnings
    with kafka_admin(s) as admin:  # what ensure_topics created itself is right
        assert topic_problems(admin, s, created) == []
