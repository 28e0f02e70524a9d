"""Faust's aiokafka transport with two latency and two no-loss fixes, as the ``vigil://`` scheme.

``streams.app`` names its brokers ``vigil://host:port``; Faust finds this module through the
``faust.transports`` entry point (``pyproject.toml``). Everything else is Faust's own driver.

1. **Fetch wait.** Faust builds its consumer with ``fetch_max_wait_ms=1500``. A worker consumes
   several topics (raw, readings, acks, profiles); while the partitions with data still have
   fetched records buffered, aiokafka's next fetch asks only for the idle partitions, and the
   broker holds that request for the full wait, so newly arrived readings sit in Kafka for up to
   1.5 s. Here the wait is ``WorkerSettings.fetch_max_wait_ms``.
2. **Eager delivery.** For every message, Faust's fetcher awaits
   ``wait_first(deliver(message), suspend_flow.wait())``: four tasks and an ``asyncio.wait``,
   although delivery almost always finishes without waiting (it puts the event on a stream's
   queue that has room). :meth:`Consumer.wait_first` first runs the delivery coroutine up to its
   first suspension; only if it has to wait does the race with ``suspend_flow`` happen as before.

3. **No skipping without a repair.** When Faust fetches a record whose offset is beyond the last one
   it read, it registers the offsets between as a gap that is safe to commit. After a rebalance those
   can be records it fetched but never delivered (:mod:`streams.holes`); committed, they are lost for
   good when the partition moves to another worker (measured: a worker joining mid-stream, 10 raw
   records). Here a gap is registered only when the agent that owns the partition has read the
   range again and its batch is acknowledged (:meth:`Consumer.release_gap`).
4. **Seek back what was dropped, committed or not.** After a rebalance Faust seeks each partition
   to its committed offset, undoing fetches it dropped; aiokafka skips partitions with no committed
   offset, whose dropped records were then never read (:meth:`ConsumerThread.seek_to_committed`).

5. **No settings lookup per message.** Before it delivers each message Faust asks the size of its
   producer buffer (table-changelog records waiting), and that size reads ``producer_threaded``
   from Faust's settings object every time (~3 % of an agent that does nothing else). The worker's
   producer is never threaded; :class:`ProducerBuffer` counts its queue directly.

Measured with ``vigil bench pipeline``: ``docs/streams.md``, "Fetch wait, eager delivery, natural
batching" and "The Faust floor".
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from inspect import iscoroutine
from typing import Any

import aiokafka
from faust.transport import producer as faust_producer
from faust.transport.drivers import aiokafka as faust_aiokafka
from mode.services import WaitResults

from streams.eager import start_eagerly
from vigil.settings import WorkerSettings

log = logging.getLogger(__name__)


class Consumer(faust_aiokafka.Consumer):
    """Faust's aiokafka consumer with eager delivery, the configured fetch wait and repaired gaps only."""

    async def _add_gap(self, tp: Any, offset_from: int, offset_to: int) -> None:
        """Faust would commit past ``offset_from..offset_to``; the agents find and read such ranges
        themselves (:func:`streams.holes.find_holes`) and release them (:meth:`release_gap`)."""

    async def release_gap(self, tp: Any, start: int, end: int) -> None:
        """Let commits pass offsets ``start <= offset < end`` of ``tp`` (read again and handled)."""
        await super()._add_gap(tp, start, end - 1)

    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def wait_first(self, *coros: Any, timeout: Any = None) -> WaitResults:
        first = coros[0] if coros else None
        if not iscoroutine(first) or self.suspend_flow.is_set() or self.should_stop:
            return await super().wait_first(*coros, timeout=timeout)
        done, outcome = start_eagerly(first)
        if done:
            for other in coros[1:]:
                if iscoroutine(other):
                    other.close()  # never started: nothing to cancel
            return WaitResults([first], [outcome], False)

        async def rest() -> Any:
            return await outcome

        return await super().wait_first(rest(), *coros[1:], timeout=timeout)


class ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    async def seek_to_committed(self) -> Mapping[Any, int]:
        """Seek every assigned partition back to its committed offset, and the agents' partitions that
        have none (or 0) to their first offset.

        Faust calls this after a rebalance to undo fetches it dropped (records of partitions it had
        paused). aiokafka seeks only partitions with a committed offset above 0; the others stayed
        past the dropped records, which nothing fetched again (the intermittent kill -9 failure:
        a partition its dead owner never committed, fetched to its end by the new owner during
        recovery, never delivered). The consumer's ``auto_offset_reset`` is ``earliest``, so the
        first offset is where such a partition starts anyway.
        """
        committed = await super().seek_to_committed()
        topology = getattr(self.app, "vigil", None)
        agent_topics = topology.agent_topics if topology else frozenset()
        unset = sorted(tp for tp, offset in committed.items() if not offset and tp.topic in agent_topics)
        if unset:
            log.info(
                "no committed offset for %s: reading from the first offset",
                ", ".join(f"{tp.topic}[{tp.partition}]" for tp in unset),
            )
            await self.call_thread(self._ensure_consumer().seek_to_beginning, *unset)
        return committed

    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        topology = getattr(self.app, "vigil", None)  # absent only for an app not built by create_app
        worker = topology.settings.worker if topology else WorkerSettings()
        wait_ms = worker.fetch_max_wait_ms
        if not hasattr(consumer, "_fetch_max_wait_ms"):  # read by aiokafka when the consumer starts
            raise RuntimeError("this aiokafka has no _fetch_max_wait_ms: update streams/transport.py")
        consumer._fetch_max_wait_ms = wait_ms
        return consumer


class ProducerBuffer(faust_producer.ProducerBuffer):
    """Faust's producer buffer; :attr:`size` without a settings lookup (the producer is not threaded)."""

    @property
    def size(self) -> int:
        return self.pending.qsize()


class Producer(faust_aiokafka.Producer):
    """Faust's aiokafka producer with :class:`ProducerBuffer`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.app.conf.producer_threaded:
            raise ValueError("producer_threaded: the vigil:// transport's producer buffer is not threaded")
        self.buffer = ProducerBuffer(loop=self.loop, beacon=self.beacon)
        self.buffer.app = self.app


class Transport(faust_aiokafka.Transport):
    """``vigil://``: Faust's aiokafka transport with :class:`Consumer` and :class:`Producer`."""

    Consumer = Consumer
    Producer = Producer
