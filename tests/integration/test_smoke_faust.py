"""Smoke test: a Faust app (in-memory tables) consumes a 3-partition topic on the real broker."""

from __future__ import annotations

import asyncio
from collections import Counter

import faust

from tests.integration.helpers import create_topics
from tests.integration.test_smoke_kafka import KEYS, PER_KEY, produce_keyed
from vigil.settings import Settings


async def test_faust_agent_counts_every_record_per_key(service_settings: Settings) -> None:
    topic_name = service_settings.topics.readings
    create_topics(service_settings, [topic_name], partitions=3)
    expected = len(KEYS) * PER_KEY
    app = faust.App(
        service_settings.worker.app_id,
        broker=f"kafka://{service_settings.kafka.bootstrap_servers}",
        store="memory://",
        datadir=str(service_settings.worker.data_dir),
        web_enabled=False,
        topic_partitions=3,
        topic_replication_factor=1,
        consumer_auto_offset_reset="earliest",
        broker_commit_every=50,
    )
    topic = app.topic(topic_name, key_serializer="raw", value_serializer="raw", partitions=3)
    seen: Counter[bytes] = Counter()
    done = asyncio.Event()

    @app.agent(topic)
    async def count(stream: faust.StreamT) -> None:
        async for key, _value in stream.items():
            assert isinstance(key, bytes)
            seen[key] += 1
            if sum(seen.values()) == expected:
                done.set()

    produce_keyed(service_settings, topic_name)
    await app.start()
    try:
        await asyncio.wait_for(done.wait(), timeout=60)
    finally:
        await app.stop()
    assert seen == Counter({key: PER_KEY for key in KEYS})
