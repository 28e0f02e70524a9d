"""The Faust topology: topics, the patient-state table and the agents that wire transport to logic.

::

    raw ──validate──> readings ──detect──> scores, alerts ──> (InfluxDB, Grafana annotations)
      └──> dead-letter    acks ──acknowledge──> alerts, ack audit (InfluxDB)
                          profiles ──profile──> patient state (SpO2 scale)

All patient-keyed topics and the table changelog share ``Settings.topics.partitions``
and key = patient id, so a patient's readings, acknowledgements, profile and state are
co-partitioned and handled by one worker at a time.

Every agent consumes batches (:func:`streams.batching.natural_batches`). The validate agent sends
a batch's readings and dead letters and acknowledges its events once Kafka has them. The agents
that change patient state (detect, acknowledge, profile) take turns, one batch at a time, under
``Topology.state_lock``; each batch:

1. decides from the patients' current states (the detect stage's in-memory, *dirty* states, or the
   table), hands its scores and alerts to the producer and starts its *sink*: the InfluxDB write,
   then its dead letters (with a batch InfluxDB rejected), then the wait for Kafka's delivery;
2. is *checkpointed* with the batches before it: at once for acknowledgements and profiles, every
   ``worker.checkpoint_interval_ms`` for readings (default 1 s after the last one, also when no reading
   comes; at once when a rebalance or shutdown has begun). A checkpoint encodes each changed patient
   state once and takes it, with the watermarks, source positions and offsets the batches include, as
   a *snapshot*; a background task (:class:`Storing`) waits for the batches' sinks, writes the snapshot
   to the table (offsets last), then acknowledges the batches' events so Faust may commit their
   offsets (after flushing the producer, including the changelog) and queues their alerts' Grafana
   annotations. The agents go on meanwhile (reads see the snapshot); the next checkpoint first waits
   for the last one's task.

A crash before a checkpoint replays its batches: the InfluxDB points overwrite themselves and the
monitor, with the checkpointed state, makes the same decisions again (output records are sent again:
at least once). A failed batch or sink drops everything not checkpointed (:meth:`Topology._abandon`).
An acknowledgement or profile applies to the same in-memory state a detect batch left, so neither
overwrites the other; Faust waits for the last checkpoint before a rebalance or shutdown completes.

A timer puts a heartbeat on each readings partition the worker owns that has gone silent
(:mod:`streams.heartbeats`), so data gaps and escalations are decided while no reading comes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import faust
import orjson
from faust.types import TP
from influxdb_client import Point

from detectors.events import AlertEvent
from detectors.monitor import PatientMonitor, PatientState
from ingest.deadletter import DeadLetter
from ingest.episodes import PatientProfile
from ingest.producer import ACTOR_HEADER
from streams.app import table_options
from streams.batching import Batch, natural_batches
from streams.codecs import RawSchema, Undecodable, decode_ack, decode_profile, decode_reading, encode
from streams.detect import DetectStage, Snapshot, StageResult
from streams.grafana_sink import AnnotationSink
from streams.health import WorkerHealth, known_highwater
from streams.heartbeats import Anchor, SilenceClock, decode_heartbeat, is_heartbeat
from streams.holes import Hole, committed_offsets, find_holes, first_offsets, read_range
from streams.influx_sink import InfluxRejected, InfluxSink
from streams.metrics import PipelineMetrics
from streams.partitioning import cached_partition, event_context, partition_for
from streams.points import ack_point, ack_url, profile_point
from streams.validate import validate_raw
from vigil.settings import Settings
from vigil.tuning import monitor_config

log = logging.getLogger(__name__)

STATE_TABLE = "patient-state"
WATERMARK_PREFIX = b"~wm:"
OFFSET_PREFIX = b"~off:"
SOURCE_PREFIX = b"~src:"
WALL_PREFIX = b"~wall:"
"""Table key prefix of the wall-clock time (epoch s) a partition's watermark last moved (heartbeats)."""
SOURCE_HEADER = "vigil-source"
"""Header on a validated reading: ``<raw partition>:<raw offset>:<item index>`` it came from."""
Record = tuple[bytes | None, bytes, list[tuple[str, bytes]] | None]
"""An output record: key, value, headers."""
METRICS_INTERVAL_S = 10.0
STORE_CHUNK = 100
"""States a background checkpoint encodes, or table writes it makes, between two turns of the event
loop (a few ms)."""
SHUTDOWN_STORE_WAIT_S = 10.0
"""How long a graceful stop waits for the last checkpoint's background task."""
SINK_STUCK_S = 5.0
"""A sink write under way this long is an outage (the consumer watchdog waits: :mod:`streams.health`);
shorter ones are the normal overlap of a batch's sink with the next batches."""
REBALANCE_CHECK_S = 0.05
"""How often an idle detect agent with batches to checkpoint looks whether a rebalance has begun: Faust
waits for the checkpoint before the partitions move, and a long wait made the window in which a joining
worker skips records (:meth:`Topology._remember_committed`) wider (``worker.checkpoint_interval_ms``)."""


def location(event: Any) -> str:
    """``topic/partition/offset`` of an event, for dead letters."""
    m = event.message
    return f"{m.topic}/{m.partition}/{m.offset}"


def check_key(event: Any, item: PatientProfile) -> None:
    """A record's key must be its patient id: one keyed otherwise sits on another partition than the
    patient's readings and state."""
    if event.key != item.patient_id.encode():
        raise Undecodable("key", "the record key is not the record's patient_id")


class TableStateView:
    """:class:`streams.detect.StateView` over the Faust table for one batch of events.

    Reads see the table as it will be after the next checkpoint (:meth:`Topology.stored_value`). The
    patients' states themselves are the detect stage's (its dirty states are the current ones)."""

    def __init__(self, topology: Topology, events: Sequence[Any]) -> None:
        self.topology = topology
        self.events = {ev.message.partition: ev for ev in events}  # the last event of each partition
        self._source_positions: dict[int, dict[str, list[int]]] = {}

    def _get(self, key: bytes, event: Any) -> bytes | None:
        return self.topology.stored_value(key, event)

    def state_bytes(self, patient_id: str, partition: int) -> bytes | None:
        return self._get(patient_id.encode(), self.events[partition])

    def patients(self, partition: int) -> Iterable[str]:
        return self.topology.patients_of(partition)

    def watermark(self, partition: int) -> datetime | None:
        raw = self._get(WATERMARK_PREFIX + str(partition).encode(), self.events[partition])
        return None if raw is None else datetime.fromisoformat(raw.decode())

    def fresh(self, events: Sequence[Any]) -> list[Any]:
        """Drop readings the validate agent sent again after a crash (at-least-once): a reading whose
        raw source position is not after the last one applied from that raw partition."""
        out = []
        for ev in events:
            src = (ev.headers or {}).get(SOURCE_HEADER)
            if src is None:
                out.append(ev)
                continue
            raw_partition, offset, index = src.decode().split(":")
            seen = self._sources(ev.message.partition)
            position = [int(offset), int(index)]
            if raw_partition in seen and position <= seen[raw_partition]:
                continue
            seen[raw_partition] = position
            out.append(ev)
        return out

    def _sources(self, partition: int) -> dict[str, list[int]]:
        if partition not in self._source_positions:
            raw = self._get(SOURCE_PREFIX + str(partition).encode(), self.events[partition])
            self._source_positions[partition] = orjson.loads(raw) if raw else {}
        return self._source_positions[partition]

    def unprocessed(self, events: Sequence[Any]) -> list[Any]:
        """The events not yet reflected in the table (a replay after a crash skips the others)."""
        done = {p: self.applied_offset(ev) for p, ev in self.events.items()}
        return [ev for ev in events if done[ev.message.partition] < ev.message.offset]

    def applied_offset(self, event: Any) -> int:
        """The last offset of ``event``'s topic and partition whose effects are in the table (-1: none)."""
        raw = self._get(offset_key(event), event)
        return -1 if raw is None else int(raw)

    def writes(self, result: StageResult) -> dict[bytes, tuple[int, bytes]]:
        """What the batch changes in the table besides the patients' states: watermarks, source positions
        and the offsets they include (key -> (partition, value))."""
        out: dict[bytes, tuple[int, bytes]] = {}
        now = str(time.time()).encode()
        for partition, wm in result.watermarks.items():
            out[WATERMARK_PREFIX + str(partition).encode()] = (partition, wm.isoformat().encode())
            out[WALL_PREFIX + str(partition).encode()] = (partition, now)
        for partition, positions in self._source_positions.items():
            out[SOURCE_PREFIX + str(partition).encode()] = (partition, orjson.dumps(positions))
        for partition, event in self.events.items():
            out[offset_key(event)] = (partition, str(event.message.offset).encode())
        return out


def offset_key(event: Any) -> bytes:
    """Table key of the last offset of ``event``'s topic and partition whose effects are stored."""
    return OFFSET_PREFIX + f"{event.message.topic}:{event.message.partition}".encode()


@dataclass(slots=True)
class Handled:
    """A batch whose outputs are on their way and whose table writes wait for the next checkpoint."""

    sink: asyncio.Future[None]
    started: float  # perf_counter when the batch was taken
    readings: int = 0
    alerts: list[AlertEvent] = field(default_factory=list)  # annotated in Grafana once durable
    dead_letters: int = 0
    batch: Batch | None = None  # its events, acknowledged at the checkpoint
    holes: list[Hole] = field(default_factory=list)  # ranges read again, released after the acknowledgement


@dataclass(slots=True)
class Storing:
    """A checkpoint's snapshot on its way into the table (:meth:`Topology.checkpoint`)."""

    handled: list[Handled]  # the batches it makes durable, acknowledged once it is stored
    states: Snapshot  # the patients' states, encoded on the way (written first)
    writes: dict[bytes, tuple[int, bytes]]  # the other keys -> (partition, value), in order (offsets last)
    contexts: dict[int, Any]  # partition -> an event of it (the table writes' partition)
    task: asyncio.Future[None] | None = None

    def get(self, key: bytes) -> tuple[int, bytes] | None:
        """What this checkpoint writes for ``key``, if it knows yet (a pending state it does not: the
        detect stage takes those from :attr:`states` itself)."""
        hit = self.writes.get(key)
        if hit is None and not key.startswith(b"~"):
            hit = self.states.changed.get(key.decode())
        return hit

    def patients_on(self, partition: int) -> set[str]:
        """The patients whose states this checkpoint holds on ``partition``."""
        states = [*self.states.pending.items(), *self.states.changed.items()]
        return {pid for pid, entry in states if entry[0] == partition}

    def failed(self) -> bool:
        task = self.task
        return task is not None and task.done() and (task.cancelled() or task.exception() is not None)


class Topology:
    """Declares topics, the table and the agents on ``app``; sinks connect on first use."""

    def __init__(
        self,
        app: faust.App,
        settings: Settings,
        worker_id: str,
        *,
        influx: InfluxSink | None = None,
        annotations: AnnotationSink | None = None,
        monitor: PatientMonitor | None = None,
        tick_every: timedelta = timedelta(minutes=5),
    ) -> None:
        self.app = app
        self.settings = settings
        self.worker_id = worker_id
        self.partitions = settings.topics.partitions
        self.stage = DetectStage(
            monitor or PatientMonitor(monitor_config(settings)),
            PatientState.from_bytes,
            tick_every=tick_every,
            deferred=True,
            cache_size=settings.worker.state_cache_patients,
        )
        self.influx = influx or InfluxSink(settings.influx)
        self.annotations = annotations or AnnotationSink(settings.grafana)
        self.metrics = PipelineMetrics(worker_id)
        self._started: asyncio.Lock | None = None
        self.state_lock = asyncio.Lock()
        """Held by a state-changing agent from reading its batch's states until they are stored."""
        self._sinks_ready = False
        self._index: dict[int, set[str]] = {}
        self._validated: dict[int, int] = {}
        """Raw partition -> last offset the validate agent sent on (the stateless agent's hole check: a
        rebalance skips records in a partition this worker *keeps*, so memory is enough)."""
        self._metrics_since = time.time()
        self.unstored: dict[bytes, tuple[int, bytes]] = {}
        """Table writes of handled batches waiting for the next checkpoint: key -> (partition, value)."""
        self._handled: list[Handled] = []
        self._storing: Storing | None = None
        """The last checkpoint, until an agent has seen it stored (:meth:`stored`)."""
        self._contexts: dict[int, Any] = {}  # partition -> an event of it, for the checkpoint's table writes
        self._checkpoint_every = settings.worker.checkpoint_interval_ms / 1000.0
        self._checkpointed_at = time.monotonic()
        self.silence = SilenceClock(settings.worker.heartbeat_after_s)
        t = settings.topics
        self.raw = self._topic(t.raw)
        self.readings = self._topic(t.readings)
        self.scores = self._topic(t.scores)
        self.alerts = self._topic(t.alerts)
        self.acks = self._topic(t.acks)
        self.profiles = self._topic(t.profiles)
        self.dead_letter = self._topic(t.dead_letter)
        self.table = app.Table(
            STATE_TABLE,
            default=None,
            partitions=self.partitions,
            key_type=bytes,
            value_type=bytes,
            options=table_options(settings.worker),
        )
        self._batch = settings.worker.batch_size
        self.validate_agent = app.agent(self.raw, name="validate")(
            self._batches(self._validate, stateful=False)
        )
        self.detect_agent = app.agent(self.readings, name="detect")(
            self._batches(self._detect, checkpoint_at_once=False)
        )
        self.ack_agent = app.agent(self.acks, name="acknowledge")(self._batches(self._acknowledge))
        self.profile_agent = app.agent(self.profiles, name="profile")(self._batches(self._apply_profiles))
        app.timer(METRICS_INTERVAL_S, name="pipeline-metrics")(self.write_metrics)
        if self.silence.after_s > 0:
            every = max(0.05, self.silence.after_s / 4)
            app.timer(every, name="heartbeats")(self.send_heartbeats)
        self.agent_topics = frozenset(
            topic.get_topic_name() for topic in (self.raw, self.readings, self.acks, self.profiles)
        )
        """The topics the agents consume (their partitions are committed; changelogs are not)."""
        self.health = WorkerHealth(
            app, self.agent_topics, settings.worker.stall_after_s, busy=self._sink_stuck
        )
        self.health.install()
        app.on_partitions_revoked.connect(self._on_revoked)
        app.on_partitions_assigned.connect(self._on_assigned)
        app.on_before_shutdown.connect(self._on_shutdown)

    # -- wiring ----------------------------------------------------------------------------------
    def _topic(self, name: str) -> faust.TopicT:
        return self.app.topic(name, schema=RawSchema(), partitions=self.partitions)

    def _batches(self, handle: Any, *, stateful: bool = True, checkpoint_at_once: bool = True) -> Any:
        """An agent handing ``handle`` batches of events; a ``stateful`` one under :attr:`state_lock`, with a
        checkpoint after each batch (``checkpoint_at_once``) or when one is due (:meth:`checkpoint`)."""

        async def agent(stream: faust.StreamT) -> None:
            idle = (self._idle_limit, self._checkpoint_when_idle) if stateful else None
            async for batch in natural_batches(stream, self._batch, idle=idle):
                self.health.took(batch.events)
                await self.ensure_sinks()
                if not stateful:
                    await self._remember_committed(batch.events)
                    events, holes = await self.with_skipped_records(batch.events, self._validated)
                    await handle(events)
                    await batch.ack()
                    await self._release(holes)
                    continue
                async with self.state_lock:
                    with self._abandoned_on_failure():
                        view = TableStateView(self, batch.events)
                        offsets = {p: view.applied_offset(ev) for p, ev in view.events.items()}
                        applied = {p: offset for p, offset in offsets.items() if offset >= 0}  # -1: none yet
                        events, holes = await self.with_skipped_records(batch.events, applied)
                        handled = await handle(events)
                        handled.batch, handled.holes = batch, holes
                        self._handled.append(handled)
                        if checkpoint_at_once or self._idle_limit() == 0.0:
                            await self.checkpoint()
                        if checkpoint_at_once:
                            await self.stored()

        agent.__name__ = handle.__name__.lstrip("_")
        return agent

    # -- checkpoints -------------------------------------------------------------------------------
    async def checkpoint(self) -> None:
        """Make the handled batches durable, in order. Here: wait until the last checkpoint is stored,
        then take the snapshot (the patients' changed states, sealed to be encoded later, the watermarks,
        source positions and, last, the offsets the batches include). In a background task
        (:meth:`_store`): wait until their outputs are in InfluxDB and Kafka, encode the states the
        batches have not touched since, write the snapshot to the table, then acknowledge their events
        (Faust may commit them). Call under :attr:`state_lock`."""
        await self.stored()
        handled, self._handled = self._handled, []
        contexts, self._contexts = self._contexts, {}
        unstored, self.unstored = self.unstored, {}
        writes = {key: unstored[key] for key in sorted(unstored, key=lambda k: k.startswith(OFFSET_PREFIX))}
        storing = Storing(handled, self.stage.seal(), writes, contexts)
        storing.task = asyncio.ensure_future(self._store(storing))
        self._storing = storing
        self._checkpointed_at = time.monotonic()

    async def stored(self) -> None:
        """Wait until the last checkpoint is in the table and acknowledged; raise what stopped it."""
        storing = self._storing
        if storing is None or storing.task is None:
            return
        try:
            await asyncio.shield(storing.task)  # an agent cancelled while waiting leaves it running
        except BaseException:
            if storing.task.done() and self._storing is storing:
                self._storing = None  # reported once; what it held is replayed
                self.stage.unseal(storing.states)
            raise
        if self._storing is storing:
            self._storing = None
            self.stage.unseal(storing.states)

    async def _store(self, storing: Storing) -> None:
        await asyncio.gather(*(h.sink for h in storing.handled))
        while self.stage.encode_sealed(storing.states, STORE_CHUNK):
            await asyncio.sleep(0)  # the agents go on between chunks
        states = ((pid.encode(), value) for pid, value in storing.states.changed.items())
        for n, (key, (partition, value)) in enumerate([*states, *storing.writes.items()], 1):
            with event_context(storing.contexts[partition]):
                self.table[key] = value
            if n % STORE_CHUNK == 0:
                await asyncio.sleep(0)
        for h in storing.handled:
            if h.batch is not None:
                await h.batch.ack()
            await self._release(h.holes)
            for e in h.alerts:
                self.annotations.offer(e)
            latency = time.perf_counter() - h.started
            self.metrics.batch(
                readings=h.readings, alerts=len(h.alerts), dead_letters=h.dead_letters, latency_s=latency
            )
            await asyncio.sleep(0)  # a second's acknowledgements take ~15 ms at 5,000 readings/s
        storing.states.changed, storing.writes = {}, {}  # in the table now

    def _idle_limit(self) -> float | None:
        """Seconds until a checkpoint is due (0: now; None: nothing to checkpoint). While Faust's flow is
        suspended (a rebalance or a shutdown has begun, and waits for the checkpoint) it is due at once."""
        if self._storing is not None and self._storing.failed():
            return 0.0  # the next checkpoint raises what stopped it
        if not self._handled:
            return None
        if not self.app.flow_control.is_active():
            return 0.0
        due = max(0.0, self._checkpoint_every - (time.monotonic() - self._checkpointed_at))
        return min(due, REBALANCE_CHECK_S)

    async def _checkpoint_when_idle(self) -> None:
        """Idle callback of the detect agent: checkpoint if one is due (:meth:`_idle_limit` is 0)."""
        async with self.state_lock:
            if self._idle_limit() != 0.0:
                return
            with self._abandoned_on_failure():
                await self.checkpoint()

    @contextlib.contextmanager
    def _abandoned_on_failure(self) -> Iterator[None]:
        """Run a batch or a checkpoint; if it fails, :meth:`_abandon` everything not checkpointed."""
        try:
            yield
        except BaseException:
            self._abandon()
            raise

    def _abandon(self) -> None:
        """Forget everything not checkpointed (a batch failed): the table, with the checkpoint being stored,
        is the truth again; the batches' events stay unacknowledged and are read again
        (:meth:`with_skipped_records`, or after a restart)."""
        for h in self._handled:
            h.sink.cancel()
        self._handled.clear()
        self.unstored.clear()
        self._contexts.clear()
        self._index.clear()
        self.stage.forget()

    async def _handled_batch(
        self,
        view: TableStateView,
        result: StageResult,
        points: Sequence[Point | str],
        dead: list[DeadLetter],
        events: Sequence[Any],
        scores: Sequence[Record],
        started: float,
    ) -> Handled:
        """Hand the batch's scores and alerts to the producer (in batch order), start its sink and note its
        table writes for the next checkpoint."""
        sends = await self.send_records(self.scores, scores)
        sends += await self.send_records(self.alerts, self._alert_records(result.events))
        sink = asyncio.ensure_future(self._sink(points, dead, events, sends))
        self.unstored.update(view.writes(result))
        self._contexts.update(view.events)
        for pid, partition in result.touched.items():
            self.patients_of(partition).add(pid)
        return Handled(sink, started, readings=len(scores), alerts=result.events, dead_letters=len(dead))

    async def with_skipped_records(
        self, events: Sequence[Any], applied: Mapping[int, int]
    ) -> tuple[Sequence[Any], list[Hole]]:
        """``events`` with any records the consumer skipped (since the offset ``applied`` to their partition,
        or between two of them) read again, in offset order per partition (see :mod:`streams.holes`); and
        those ranges, to :meth:`_release` once the batch is acknowledged."""
        holes = find_holes(events, applied)
        if not holes:
            return events, []
        skipped: list[Any] = []
        for topic, partition, start, end in holes:
            found = await read_range(self.settings.kafka, topic, partition, start, end)
            if found:  # an empty range is compaction, expiry or transaction markers: nothing was lost
                log.warning(
                    "%s[%d]: %d records at offsets %d..%d were skipped by the consumer (a rebalance); "
                    "processing them now",
                    topic,
                    partition,
                    len(found),
                    start,
                    end - 1,
                )
            skipped += found
        return sorted([*events, *skipped], key=lambda ev: (ev.message.partition, ev.message.offset)), holes

    async def _release(self, holes: Sequence[Hole]) -> None:
        """Let Faust commit past ranges read again and handled (``streams.transport``)."""
        release = getattr(self.app.consumer, "release_gap", None)
        if release is None:  # an app not built by create_app (Faust's own transport)
            return
        for topic, partition, start, end in holes:
            await release(TP(topic, partition), start, end)

    async def _remember_committed(self, events: Sequence[Any]) -> None:
        """For raw partitions this worker has not sent from since it got them, take the group's committed
        offset (or, with none, the partition's first record) as where sending resumes: a worker that
        just got a partition then also finds records the consumer skipped before its first batch (seen
        when a second worker joins mid-stream; re-sent records are dropped by the detect agent)."""
        unknown = {ev.message.partition for ev in events} - set(self._validated)
        if unknown:
            topic = self.raw.get_topic_name()
            committed = await committed_offsets(self.settings.kafka, self.app.conf.id, topic, unknown)
            if unknown - set(committed):
                committed |= await first_offsets(self.settings.kafka, topic, unknown - set(committed))
            for partition, offset in committed.items():
                self._validated[partition] = offset - 1

    async def ensure_sinks(self) -> None:
        """Connect InfluxDB and start the annotation poster once, inside the worker's loop."""
        if self._sinks_ready:
            return
        if self._started is None:
            self._started = asyncio.Lock()
        async with self._started:
            if not self._sinks_ready:
                # Faust's buffer of table-changelog records (a batch stores one state per patient)
                # holds 100 before it stalls message delivery to flush them one by one, logging
                # "producer buffer full" at WARNING each time; no setting exposes it.
                self.app.producer.buffer.max_messages = max(100, 4 * self._batch)
                await self.influx.connect()
                self.annotations.start()
                self._sinks_ready = True

    async def _on_revoked(self, *args: Any, **kwargs: Any) -> None:
        """Faust has waited for every started event to be acknowledged (checkpointed): start afresh."""
        self._abandon()

    async def _on_assigned(self, *args: Any, **kwargs: Any) -> None:
        """Forget the validated offsets of raw partitions not kept (``args``: the app, the assigned topic
        partitions): another worker moves them on."""
        assigned: Iterable[Any] = args[1] if len(args) > 1 else kwargs.get("assigned", ())
        assigned = list(assigned)
        self.health.assigned(assigned)
        kept = {tp.partition for tp in assigned if tp.topic == self.raw.get_topic_name()}
        for partition in list(self._validated):
            if partition not in kept:
                del self._validated[partition]

    def _sink_stuck(self) -> bool:
        """A handled batch's InfluxDB write or Kafka delivery has been under way for more than
        :data:`SINK_STUCK_S` (an outage: the agents wait for it, which is not a stall)."""
        now = time.perf_counter()
        storing = self._storing.handled if self._storing is not None else []
        return any(not h.sink.done() and now - h.started > SINK_STUCK_S for h in [*storing, *self._handled])

    async def _on_shutdown(self, *args: Any, **kwargs: Any) -> None:
        """Graceful stop (consumer already stopped): let the last checkpoint's task end, give queued
        annotations a moment, close InfluxDB."""
        with contextlib.suppress(Exception):  # not stored: replayed after the restart
            await asyncio.wait_for(self.stored(), timeout=SHUTDOWN_STORE_WAIT_S)
        self._abandon()  # the consumer waited for the last checkpoint; anything later is replayed
        if self._sinks_ready:
            await self.annotations.stop(drain_timeout_s=5.0)
            await self.influx.close()
            self._sinks_ready = False

    # -- patient index (for event-time ticks) --------------------------------------------------
    def patients_of(self, partition: int) -> set[str]:
        """Patients with state on ``partition``: read from the table (and the checkpoint being stored) the
        first time after an assignment, then kept up to date as new patients are stored."""
        if partition not in self._index:
            self._index[partition] = {
                key.decode()
                for key in self.table
                if not key.startswith(b"~") and partition_for(key, self.partitions) == partition
            }
            if self._storing is not None:
                self._index[partition] |= self._storing.patients_on(partition)
        return self._index[partition]

    # -- agents ------------------------------------------------------------------------------------
    async def _validate(self, events: Sequence[Any]) -> None:
        out: list[Record] = []
        dead_out: list[Record] = []
        rejected = 0
        for ev in events:
            readings, dead = validate_raw(ev.value, location(ev))
            source = f"{ev.message.partition}:{ev.message.offset}"
            for i, r in enumerate(readings):
                out.append((r.patient_id.encode(), r.to_json(), [(SOURCE_HEADER, f"{source}:{i}".encode())]))
            dead_out.extend((ev.key, d.to_json(), None) for d in dead)
            rejected += len(dead)
        sends = await self.send_records(self.readings, out)
        sends += await self.send_records(self.dead_letter, dead_out)
        await asyncio.gather(*sends)
        for ev in events:
            m = ev.message
            self._validated[m.partition] = max(m.offset, self._validated.get(m.partition, -1))
        self.metrics.batch(rejected=rejected, dead_letters=rejected)

    async def _detect(self, events: Sequence[Any]) -> Handled:
        started = time.perf_counter()
        view = TableStateView(self, events)
        items, dead = self._decode(
            view.fresh(view.unprocessed(events)), decode_reading, "detect", heartbeats=True
        )
        result = self.stage.run(items, view)
        for partition, watermark in result.watermarks.items():
            self.silence.moved(partition, watermark)
        scores = [(r.patient_id.encode(), s.to_json(), None) for r, s in result.readings if s is not None]
        points = result.points(self.settings.grafana.ack_base_url)
        return await self._handled_batch(view, result, points, dead, events, scores, started)

    async def _acknowledge(self, events: Sequence[Any]) -> Handled:
        started = time.perf_counter()
        view = TableStateView(self, events)
        items, dead = self._decode(view.unprocessed(events), decode_ack, "acknowledge")
        result = self.stage.acknowledge(items, view)
        points: list[Point | str] = [ack_point(a) for _, a in items]
        points.extend(result.points(self.settings.grafana.ack_base_url))
        return await self._handled_batch(view, result, points, dead, events, (), started)

    async def _apply_profiles(self, events: Sequence[Any]) -> Handled:
        started = time.perf_counter()
        view = TableStateView(self, events)
        audit: list[Point | str] = []

        def checked_and_audited(event: Any, profile: PatientProfile) -> None:
            check_key(event, profile)
            actor = (event.headers or {}).get(ACTOR_HEADER, b"").decode(errors="replace")
            when = datetime.fromtimestamp(event.message.timestamp, UTC)
            audit.append(profile_point(profile, when, actor))

        items, dead = self._decode(view.unprocessed(events), decode_profile, "profile", checked_and_audited)
        result = self.stage.apply_profiles(items, view)
        return await self._handled_batch(view, result, audit, dead, events, (), started)

    # -- helpers -----------------------------------------------------------------------------------
    async def send_records(self, topic: faust.TopicT, records: Sequence[Record]) -> list[Awaitable[Any]]:
        """Hand a batch's records for ``topic`` to the producer; returns delivery futures (the caller
        awaits them before acknowledging the batch).

        Records are grouped by partition (Kafka's default partitioner of the key, as everywhere, so
        per-key order is kept) into aiokafka ``create_batch``/``send_batch`` record batches: one
        producer call per partition instead of one ``topic.send`` per record (Faust message objects,
        callbacks and an aiokafka metadata check each).
        """
        if not records:
            return []
        by_partition: dict[int, list[Record]] = {}
        unkeyed = 0
        for rec in records:
            if rec[0] is None:  # no key: spread like the default partitioner would (round robin)
                part, unkeyed = unkeyed % self.partitions, unkeyed + 1
            else:
                part = cached_partition(rec[0], self.partitions)
            by_partition.setdefault(part, []).append(rec)
        return await self.send_to_partitions(topic, by_partition)

    async def send_to_partitions(
        self, topic: faust.TopicT, by_partition: Mapping[int, Sequence[Record]]
    ) -> list[Awaitable[Any]]:
        """Hand records to the producer as one aiokafka record batch per partition (more if a batch is
        full); returns delivery futures."""
        name = topic.get_topic_name()
        producer = self.app.producer._ensure_producer()  # type: ignore[attr-defined]
        futures: list[Awaitable[Any]] = []
        for part, recs in by_partition.items():
            batch = producer.create_batch()
            for key, value, headers in recs:
                if batch.append(key=key, value=value, timestamp=None, headers=headers or []) is None:
                    futures.append(await producer.send_batch(batch, name, partition=part))
                    batch = producer.create_batch()
                    if batch.append(key=key, value=value, timestamp=None, headers=headers or []) is None:
                        raise ValueError(f"record of {len(value)} bytes exceeds the producer's batch size")
            if batch.record_count():
                futures.append(await producer.send_batch(batch, name, partition=part))
        return futures

    def _decode(
        self,
        events: Iterable[Any],
        decode: Callable[[bytes | None], Any],
        stage: str,
        check: Callable[[Any, Any], None] | None = None,
        *,
        heartbeats: bool = False,
    ) -> tuple[list[tuple[int, Any]], list[DeadLetter]]:
        """``(partition, decoded)`` per event, and dead letters for those ``decode`` (or ``check`` of the
        event and its decoded value) rejects with :class:`Undecodable`. With ``heartbeats``, heartbeat
        records are decoded as such (:mod:`streams.heartbeats`)."""
        items, dead = [], []
        for ev in events:
            try:
                if heartbeats and is_heartbeat(ev.headers):
                    items.append((ev.message.partition, decode_heartbeat(ev.value)))
                    continue
                item = decode(ev.value)
                if check is not None:
                    check(ev, item)
                items.append((ev.message.partition, item))
            except Undecodable as exc:
                dead.append(self._dead(ev.value, exc, stage, location(ev)))
        return items, dead

    async def _sink(
        self, points: Sequence[Point | str], dead: list[DeadLetter], events: Sequence[Any], sends: list[Any]
    ) -> None:
        """Write ``points`` to InfluxDB, send the dead letters (with any batch InfluxDB rejected), and wait
        until Kafka has every record of the batch (``sends``: its records already handed over)."""
        await self._store_points(points, dead, events)
        sends += await self.send_records(self.dead_letter, [(None, d.to_json(), None) for d in dead])
        await asyncio.gather(*sends)

    def _alert_records(self, events: Sequence[AlertEvent]) -> list[Record]:
        """Alert transitions for the alerts topic, each with its acknowledge link."""
        base = self.settings.grafana.ack_base_url
        return [
            (e.patient_id.encode(), encode({**e.to_dict(), "ack_url": ack_url(base, e.alert_id)}), None)
            for e in events
        ]

    async def _store_points(
        self, points: Sequence[Point | str], dead: list[DeadLetter], events: Sequence[Any]
    ) -> None:
        before = self.influx.retries
        try:
            await self.influx.write(points)
        except InfluxRejected as exc:
            log.error(
                "influx rejected a batch of %d points (HTTP %d); sent to dead-letter topic",
                len(points),
                exc.status,
            )
            where = f"{location(events[0])}..{location(events[-1])}" if events else None
            dead.append(
                DeadLetter.of(
                    exc.lines,
                    reason=f"influx rejected: {exc.reason}",
                    source="kafka",
                    stage="influx-sink",
                    location=where,
                )
            )
        self.metrics.influx_retries += self.influx.retries - before

    @staticmethod
    def _dead(value: bytes | None, exc: Undecodable, stage: str, where: str) -> DeadLetter:
        return DeadLetter.of(
            value or b"", reason=exc.reason, field=exc.field, source="kafka", stage=stage, location=where
        )

    async def write_metrics(self) -> None:
        """Timer: one ``pipeline`` point per interval (best effort)."""
        await self.ensure_sinks()
        self.metrics.annotations_dropped = self.annotations.dropped
        self.metrics.refetches = self.health.refetched
        self.metrics.consumer_lag = self._consumer_lag()
        now = time.time()
        point = self.metrics.point(now_s=now, since_s=self._metrics_since)
        self._metrics_since = now
        try:
            await asyncio.wait_for(self.influx.write([point]), timeout=METRICS_INTERVAL_S)
        except (TimeoutError, InfluxRejected) as exc:
            log.warning("pipeline metrics not written: %s", type(exc).__name__)

    async def send_heartbeats(self) -> None:
        """Timer: a heartbeat on each readings partition this worker owns that has been silent for
        ``worker.heartbeat_after_s`` (:mod:`streams.heartbeats`); none while a rebalance is under way."""
        if not self.app.flow_control.is_active():
            return
        topic = self.readings.get_topic_name()
        mine = sorted(tp.partition for tp in self.app.consumer.assignment() if tp.topic == topic)
        self.silence.keep(mine)
        try:
            due = self.silence.due(mine, self._stored_anchor)
            if due:
                sends = await self.send_to_partitions(
                    self.readings, {p: [hb.record()] for p, hb in due.items()}
                )
                await asyncio.gather(*sends)
                self.metrics.heartbeats += len(due)
                log.debug("heartbeats sent to readings partitions %s", sorted(due))
        except Exception as exc:  # best effort: an exception in a Faust timer would stop the worker
            log.warning("heartbeats not sent (%s); the next ones carry the whole silence", type(exc).__name__)

    def stored_value(self, key: bytes, event: Any = None) -> bytes | None:
        """A table value as it will be after the next checkpoint: a handled batch's pending write
        (:attr:`unstored`), else the last checkpoint's if it is still being stored, else the table's
        (looked up in ``event``'s partition if given, else in all)."""
        pending = self.unstored.get(key)
        if pending is None and self._storing is not None:
            pending = self._storing.get(key)
        if pending is not None:
            return pending[1]
        if event is None:
            return self.table.get(key)  # type: ignore[no-any-return]
        with event_context(event):
            return self.table.get(key)  # type: ignore[no-any-return]

    def _stored_anchor(self, partition: int) -> Anchor:
        """A partition's watermark and when it last moved (wall clock), as the next checkpoint will store."""
        wm = self.stored_value(WATERMARK_PREFIX + str(partition).encode())
        at = self.stored_value(WALL_PREFIX + str(partition).encode())
        return (
            None if wm is None else datetime.fromisoformat(wm.decode()),
            None if at is None else float(at),
        )

    def _consumer_lag(self) -> int:
        """Records on this worker's partitions of the agents' topics past the group's committed offsets
        (as far as the consumer has heard of their ends). Table changelogs are assigned too but never
        committed; counted, they would add their whole length."""
        consumer = self.app.consumer
        committed: dict[Any, int] = getattr(consumer, "_committed_offset", {}) or {}
        lag = 0
        for tp in consumer.assignment():
            if tp.topic not in self.agent_topics:
                continue
            end = known_highwater(consumer, tp)
            if end is not None:
                lag += max(0, end - (committed.get(tp) or 0))
        return lag
