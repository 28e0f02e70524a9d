"""``streams.holes`` against the real broker: the group's committed offsets a joining worker starts from."""

from __future__ import annotations

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata

from streams.holes import committed_offsets, first_offsets
from tests.integration.helpers import create_topics
from vigil.settings import Settings


async def test_committed_offsets_are_the_groups_own_per_partition(service_settings: Settings) -> None:
    s = service_settings
    topic = s.topics.raw
    create_topics(s, [topic], partitions=3)
    group = f"{s.worker.app_id}-committed"
    committer = KafkaConsumer(
        bootstrap_servers=s.kafka.bootstrap_list,
        group_id=group,
        enable_auto_commit=False,
        **s.kafka.kafka_python_config(),
    )
    try:
        committer.commit(
            {
                TopicPartition(topic, 0): OffsetAndMetadata(5, "", -1),
                TopicPartition(topic, 2): OffsetAndMetadata(12, "", -1),
            }
        )
    finally:
        committer.close()
    assert await committed_offsets(s.kafka, group, topic, [0, 1, 2]) == {0: 5, 2: 12}
    assert await committed_offsets(s.kafka, f"{group}-other", topic, [0, 1, 2]) == {}


async def test_first_offsets_are_where_each_partition_begins(service_settings: Settings) -> None:
    s = service_settings
    topic = s.topics.readings
    create_topics(s, [topic], partitions=2)
    assert await first_offsets(s.kafka, topic, [0, 1]) == {0: 0, 1: 0}


async def test_aiokafka_seeks_back_only_partitions_with_a_committed_offset(
    service_settings: Settings,
) -> None:
    """Why ``streams.transport.ConsumerThread.seek_to_committed`` exists: after fetching a partition the
    group never committed, aiokafka's ``seek_to_committed`` leaves the position where it is — past the
    records, which faust had dropped during a rebalance (the intermittent kill -9 failure); a partition
    with a committed offset goes back to it. If aiokafka changes this, the fix becomes redundant."""
    from aiokafka import AIOKafkaConsumer
    from aiokafka import TopicPartition as AioTP

    from streams.holes import _consumer_security

    s = service_settings
    topic = s.topics.raw
    create_topics(s, [topic], partitions=2)
    producer = KafkaProducer(bootstrap_servers=s.kafka.bootstrap_list, **s.kafka.kafka_python_config())
    try:
        for partition in (0, 1):
            for i in range(20):
                producer.send(topic, key=b"k", value=b"%d" % i, partition=partition)
        producer.flush(30)
    finally:
        producer.close()
    group = f"{s.worker.app_id}-seek"
    committer = KafkaConsumer(
        bootstrap_servers=s.kafka.bootstrap_list, group_id=group, **s.kafka.kafka_python_config()
    )
    try:
        committer.commit({TopicPartition(topic, 1): OffsetAndMetadata(5, "", -1)})
    finally:
        committer.close()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=s.kafka.bootstrap_servers,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **_consumer_security(s.kafka),
    )
    await consumer.start()
    try:
        p0, p1 = AioTP(topic, 0), AioTP(topic, 1)
        consumer.assign([p0, p1])
        got = 0
        while got < 20 + 15:
            batch = await consumer.getmany(timeout_ms=5000)
            assert batch, "no records fetched"
            got += sum(len(v) for v in batch.values())
        assert (await consumer.position(p0), await consumer.position(p1)) == (20, 20)
        assert await consumer.seek_to_committed() == {p0: None, p1: 5}
        assert (await consumer.position(p0), await consumer.position(p1)) == (20, 5)
    finally:
        await consumer.stop()
