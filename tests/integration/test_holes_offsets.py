"""``streams.holes`` against the real broker: the group's committed offsets a joining worker starts from."""

from __future__ import annotations

from kafka import KafkaConsumer, TopicPartition
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
