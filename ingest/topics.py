"""Create Vigil's Kafka topics idempotently (used by tests, the worker, compose and the demo's Kafka mode)."""

from __future__ import annotations

import logging
from typing import Any

from vigil.settings import Settings

log = logging.getLogger(__name__)

TOPIC_FIELDS = ("raw", "readings", "scores", "alerts", "acks", "dead_letter", "profiles")
"""The ``Settings.topics`` fields that name a topic."""
COMPACTED = frozenset({"profiles"})
"""Topics that keep the latest record per key forever (``cleanup.policy=compact``)."""


def topic_configs(settings: Settings) -> dict[str, dict[str, str]]:
    """Per-topic configuration for the topics that need more than the broker defaults.

    >>> topic_configs(Settings())
    {'vigil.patient-profiles': {'cleanup.policy': 'compact'}}
    """
    return {
        getattr(settings.topics, f): {"cleanup.policy": "compact"} for f in TOPIC_FIELDS if f in COMPACTED
    }


def topic_names(settings: Settings) -> list[str]:
    """Every topic name Vigil uses, in a stable order.

    >>> topic_names(Settings())[:2]
    ['vigil.readings.raw', 'vigil.readings']
    """
    return [getattr(settings.topics, f) for f in TOPIC_FIELDS]


def ensure_topics(settings: Settings, *, timeout_s: float = 30.0) -> list[str]:
    """Create any missing topic with ``Settings.topics.partitions`` and replication; returns those created.

    Existing topics are left as they are (their partition count is not changed), but each way an
    existing topic differs from what Vigil needs is logged as a warning (:func:`topic_problems`).
    """
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(
        bootstrap_servers=settings.kafka.bootstrap_list,
        client_id=f"{settings.kafka.client_id}-admin",
        request_timeout_ms=int(timeout_s * 1000),
        **settings.kafka.kafka_python_config(),
    )
    try:
        existing = set(admin.list_topics())
        missing = [name for name in topic_names(settings) if name not in existing]
        created = []
        configs = topic_configs(settings)
        for name in missing:
            try:
                topic = NewTopic(
                    name,
                    settings.topics.partitions,
                    settings.topics.replication_factor,
                    topic_configs=configs.get(name, {}),
                )
                admin.create_topics(
                    [topic],
                    timeout_ms=int(timeout_s * 1000),
                )
                created.append(name)
            except TopicAlreadyExistsError:  # created concurrently by another process
                pass
        log.info(
            "kafka topics: %d created, %d already existed",
            len(created),
            len(existing & set(topic_names(settings))),
        )
        for problem in topic_problems(admin, settings, [n for n in topic_names(settings) if n in existing]):
            log.warning("kafka topics: %s", problem)
        return created
    finally:
        admin.close()


def topic_problems(admin: Any, settings: Settings, names: list[str]) -> list[str]:
    """How the existing topics ``names`` differ from what Vigil needs: the partition count (a
    patient's readings, acks, profiles and state must share partitions) and compaction of the
    profiles topic (else old profiles expire). ``admin`` is a kafka-python ``KafkaAdminClient``."""
    if not names:
        return []
    from kafka.admin import ConfigResource, ConfigResourceType

    problems = []
    want = settings.topics.partitions
    for meta in admin.describe_topics(names):
        count = len(meta.get("partitions") or ())
        if count != want:
            problems.append(
                f"{meta.get('name') or meta.get('topic')} has {count} partitions, settings say {want}: "
                "patient data would not be co-partitioned (recreate it, or set topics.partitions)"
            )
    configs = topic_configs(settings)
    compacted = [n for n in names if n in configs]
    if compacted:
        described = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, n) for n in compacted])
        for name in compacted:
            policy = described.get("topic", {}).get(name, {}).get("cleanup.policy", {}).get("value", "delete")
            if "compact" not in policy:
                problems.append(
                    f"{name} has cleanup.policy={policy}, not compact: profiles older than its retention "
                    "are lost (kafka-configs.sh --alter --add-config cleanup.policy=compact)"
                )
    return problems
