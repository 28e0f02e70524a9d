"""Which partition a patient lives on, and writing table keys to the right partition from a batch.

Every patient-keyed topic (readings, scores, alerts, acks, profiles) and the state table's
changelog use Kafka's default partitioner (murmur2 of the key bytes, as the Java
client, kafka-python and aiokafka do), so a patient's data is co-partitioned.

Faust decides which partition a table write belongs to from the *current event*.
Inside a batch of events that is not the event being handled, so
:func:`event_context` sets it explicitly for each write.

>>> partition_for(b"p-001", 6) == partition_for(b"p-001", 6)
True
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiokafka.partitioner import DefaultPartitioner
from faust import streams as faust_streams

_PARTITIONER = DefaultPartitioner()


def partition_for(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner picks for ``key`` among ``partitions``."""
    all_partitions = list(range(partitions))
    return int(_PARTITIONER(key, all_partitions, all_partitions))


@functools.lru_cache(maxsize=200_000)
def cached_partition(key: bytes, partitions: int) -> int:
    """:func:`partition_for`, memoised (keys are patient ids: a bounded set, hashed once each)."""
    return partition_for(key, partitions)


@contextmanager
def event_context(event: Any) -> Iterator[None]:
    """Make ``event`` Faust's current event, so table writes go to its partition (store and changelog).

    Faust has no public setter; this sets the same context variable its stream iteration sets.
    """
    token = faust_streams._current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        faust_streams._current_event.reset(token)
