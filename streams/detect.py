"""The detect stage without Faust: a batch of readings through the per-patient monitor.

:class:`DetectStage` runs the *same* ``detectors.monitor.PatientMonitor`` as the
embedded demo on a batch of ``(partition, reading)`` pairs, reading patient state
bytes from a :class:`StateView` (the Faust table in the worker, a dict in tests),
and returns everything to store and send: scored readings, NEWS2 scores, alert
events, the new state bytes per patient and the new per-partition watermarks.
Nothing is written here: the agent stores the sink output first and the state last
(see ``docs/streams.md``, "No data lost"). With ``deferred=True`` (the worker) a batch leaves
the states it changed *dirty* in memory, where the next batches use them, and a checkpoint
encodes each once for the table (a patient's state is written once per checkpoint, not once per
batch). :meth:`DetectStage.seal` takes them for a checkpoint without encoding them: a
:class:`Snapshot` encodes a state when the next batch first touches it (before changing it) or
when the worker gets round to it in the background, so a checkpoint does not hold up the batches
while a thousand states are encoded.

Data-gap ticks are driven by event time, deterministically: each partition has a
watermark (its largest event time so far, kept in the table so it survives a crash
or a rebalance); whenever a reading moves it past a multiple of ``tick_every``, all
patients of that partition are ticked at that boundary *before* the reading is
processed, so the same input gives the same alerts however it was batched. A
:class:`streams.heartbeats.Heartbeat` among the readings moves its partition's watermark
(and ticks) like a reading of that time would, and nothing else.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any, Protocol

from influxdb_client import Point

from detectors.events import Acknowledgement, AlertEvent, ScoredReading
from ingest.episodes import PatientProfile
from ingest.reading import Reading
from streams.heartbeats import Heartbeat
from streams.points import alert_point, news2_line, reading_line
from streams.schema import ns_time


class MonitorOutputLike(Protocol):
    @property
    def scored(self) -> ScoredReading | None: ...
    @property
    def news2(self) -> Any: ...
    @property
    def events(self) -> list[AlertEvent]: ...


class MonitorLike(Protocol):
    """What the stage needs of ``detectors.monitor.PatientMonitor``."""

    def new_state(self, profile: PatientProfile) -> Any: ...
    def process(self, state: Any, reading: Reading) -> MonitorOutputLike: ...
    def acknowledge(self, state: Any, ack: Acknowledgement) -> list[AlertEvent]: ...
    def apply_profile(self, state: Any, profile: PatientProfile) -> None: ...
    def tick(self, state: Any, now: datetime) -> list[AlertEvent]: ...


class StateView(Protocol):
    """Read access to the patient states and watermarks of the assigned partitions."""

    def state_bytes(self, patient_id: str, partition: int) -> bytes | None: ...
    def patients(self, partition: int) -> Iterable[str]: ...
    def watermark(self, partition: int) -> datetime | None: ...


@dataclass
class DictStateView:
    """A :class:`StateView` over plain dicts (tests, benchmarks) that can also apply a result."""

    states: dict[str, bytes] = field(default_factory=dict)
    partition_of: dict[str, int] = field(default_factory=dict)
    watermarks: dict[int, datetime] = field(default_factory=dict)

    def state_bytes(self, patient_id: str, partition: int) -> bytes | None:
        return self.states.get(patient_id)

    def patients(self, partition: int) -> Iterable[str]:
        return sorted(p for p, part in self.partition_of.items() if part == partition)

    def watermark(self, partition: int) -> datetime | None:
        return self.watermarks.get(partition)

    def apply(self, result: StageResult) -> None:
        self.store(result.states)
        self.partition_of.update(result.touched)
        self.watermarks.update(result.watermarks)

    def store(self, states: dict[str, tuple[int, bytes]]) -> None:
        """Take states (``StageResult.states``, or :meth:`DetectStage.checkpoint` in deferred mode)."""
        for pid, (partition, data) in states.items():
            self.states[pid] = data
            self.partition_of[pid] = partition


@dataclass
class StageResult:
    """Everything a batch produced, in input order."""

    readings: list[tuple[Reading, ScoredReading | None]] = field(default_factory=list)
    news2: list[tuple[Reading, Any]] = field(default_factory=list)
    events: list[AlertEvent] = field(default_factory=list)
    states: dict[str, tuple[int, bytes]] = field(default_factory=dict)  # patient -> (partition, state)
    watermarks: dict[int, datetime] = field(default_factory=dict)
    duplicates: int = 0
    heartbeats: int = 0
    touched: dict[str, int] = field(default_factory=dict)  # deferred mode: patient -> partition, left dirty

    def points(self, ack_base_url: str) -> list[Point | str]:
        """InfluxDB points for the batch: readings (scored), NEWS2 and alert transitions (the per-reading
        ones as ready-made line protocol)."""
        at = {r.reading_id: ns_time(r.time, r.reading_id) for r, _ in self.readings}
        pts: list[Point | str] = [reading_line(r, s, at[r.reading_id]) for r, s in self.readings]
        pts.extend(news2_line(r.patient_id, r.time, r.reading_id, n, at[r.reading_id]) for r, n in self.news2)
        pts.extend(alert_point(e, ack_base_url) for e in self.events)
        return pts


@dataclass(slots=True)
class Snapshot:
    """The patient states of one checkpoint, encoded lazily (deferred mode, :meth:`DetectStage.seal`).

    ``pending`` states are as they were at the checkpoint and not encoded yet; a batch that touches one
    first encodes it here (:meth:`take`), and the worker encodes the rest in the background
    (:meth:`DetectStage.encode_sealed`). ``changed`` holds the encoded states that differ from what
    the table had (patient -> (partition, bytes)): what the checkpoint writes.

    >>> from detectors.monitor import PatientState
    >>> snap = Snapshot({"p1": (0, PatientState("p1"), None)})
    >>> part, st, data = snap.take("p1")
    >>> data == st.to_bytes(), list(snap.changed), snap.pending
    (True, ['p1'], {})
    """

    pending: dict[str, tuple[int, Any, bytes | None]] = field(default_factory=dict)
    changed: dict[str, tuple[int, bytes]] = field(default_factory=dict)

    def take(self, patient_id: str) -> tuple[int, Any, bytes]:
        """Encode a pending state now (it is about to change): ``(partition, state, its bytes)``."""
        part, st, before = self.pending.pop(patient_id)
        data = st.to_bytes()
        if data != before:
            self.changed[patient_id] = (part, data)
        return part, st, data


def tick_boundary(t: datetime, every: timedelta) -> datetime:
    """The last multiple of ``every`` (since the Unix epoch) at or before ``t``.

    >>> tick_boundary(datetime(2024, 1, 1, 8, 7, 30, tzinfo=UTC), timedelta(minutes=5)).isoformat()
    '2024-01-01T08:05:00+00:00'
    """
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + ((t - epoch) // every) * every


class DetectStage:
    """Runs batches through the monitor; the state codec is the monitor's ``PatientState``."""

    def __init__(
        self,
        monitor: MonitorLike,
        state_from_bytes: Callable[[bytes], Any],
        *,
        tick_every: timedelta = timedelta(minutes=5),
        profile_for: Callable[[str], PatientProfile] | None = None,
        deferred: bool = False,
        cache_size: int | None = None,
    ) -> None:
        self.monitor = monitor
        self.deferred = deferred
        self.dirty: dict[str, tuple[int, Any, bytes | None]] = {}
        """Deferred mode: patient -> (partition, state changed since the last checkpoint, the stored bytes
        it started from). These objects, not the stored bytes, are the patients' current states."""
        self.sealed = Snapshot()
        """Deferred mode: the last checkpoint's states while they are being encoded and stored (see
        :meth:`seal`); a batch takes a state from here before it changes it."""
        self.state_from_bytes = state_from_bytes
        self.tick_every = tick_every
        self.profile_for = profile_for or (lambda pid: PatientProfile(patient_id=pid))
        self.cache: OrderedDict[str, tuple[bytes, Any]] = OrderedDict()
        """patient -> (state bytes, the decoded state they encode): saves decoding the state of every
        patient in every batch. An entry is used only when the stored bytes are exactly the cached
        ones, and it is taken out while a batch works on the state (a failed batch cannot leave a
        half-updated object behind). Ordered from the least to the most recently used."""
        self.cache_size = cache_size
        """Most decoded states the cache keeps (None: no bound); the least recently used go first, and
        are decoded again from the table when next needed. Memory: a decoded state is a few times its
        bytes (``vigil bench pipeline``, ``decoded_state_kib_per_patient``)."""

    def forget(self) -> None:
        """Drop the decoded and the dirty states (partitions revoked, or a batch failed before its
        checkpoint: the table, with the checkpoint being stored, is the truth). A sealed snapshot stays:
        it is the checkpoint being stored (:meth:`unseal` drops it)."""
        self.cache.clear()
        self.dirty.clear()

    def seal(self) -> Snapshot:
        """Deferred mode: take the dirty states for a checkpoint, as they are now, without encoding them
        (they are clean afterwards). Encode them with :meth:`encode_sealed`; the batches that touch
        one first encode it. Call :meth:`unseal` once the snapshot is stored, or given up."""
        self.sealed = Snapshot(self.dirty)
        self.dirty = {}
        return self.sealed

    def encode_sealed(self, snapshot: Snapshot, limit: int | None = None) -> int:
        """Encode up to ``limit`` (None: all) of ``snapshot``'s pending states, keeping each decoded for
        the next batch; returns how many are left."""
        pending = snapshot.pending
        for pid in list(islice(pending, limit)):  # a copy of the keys taken, not of all of them
            _, st, data = snapshot.take(pid)
            self.keep_decoded(pid, data, st)
        return len(pending)

    def keep_decoded(self, patient_id: str, data: bytes, state: Any) -> None:
        """Cache ``state``, decoded from ``data``, as the most recently used; drop the least recently
        used beyond ``cache_size``."""
        cache = self.cache
        cache[patient_id] = (data, state)
        cache.move_to_end(patient_id)
        if self.cache_size is not None and len(cache) > self.cache_size:
            cache.popitem(last=False)

    def unseal(self, snapshot: Snapshot) -> None:
        """The snapshot is in the table (or given up): batches read states from the table again."""
        if self.sealed is snapshot:
            self.sealed = Snapshot()

    def checkpoint(self) -> dict[str, tuple[int, bytes]]:
        """Deferred mode, all at once: the dirty states encoded, those that differ from what is stored
        (patient -> (partition, bytes)); they are clean afterwards."""
        snapshot = self.seal()
        self.encode_sealed(snapshot)
        self.unseal(snapshot)
        return snapshot.changed

    def run(self, items: Sequence[tuple[int, Reading | Heartbeat]], view: StateView) -> StageResult:
        """Process ``(partition, reading)`` pairs (or heartbeats) in order."""
        batch = _Batch(self, view)
        for partition, reading in items:
            batch.advance_watermark(partition, reading.time)
            if isinstance(reading, Heartbeat):
                batch.result.heartbeats += 1
                continue
            out = self.monitor.process(batch.state(reading.patient_id, partition), reading)
            if out.scored is None:
                batch.result.duplicates += 1
            else:
                batch.result.readings.append((reading, out.scored))
                if out.news2 is not None:
                    batch.result.news2.append((reading, out.news2))
            batch.result.events.extend(out.events)
        return batch.finish()

    def acknowledge(self, items: Sequence[tuple[int, Acknowledgement]], view: StateView) -> StageResult:
        """Apply acknowledgements to the patients' alert state."""
        batch = _Batch(self, view)
        for partition, ack in items:
            batch.result.events.extend(self.monitor.acknowledge(batch.state(ack.patient_id, partition), ack))
        return batch.finish()

    def apply_profiles(self, items: Sequence[tuple[int, PatientProfile]], view: StateView) -> StageResult:
        """Take profiles into the patients' states (a patient without one gets a state made from it)."""
        batch = _Batch(self, view)
        for partition, profile in items:
            self.monitor.apply_profile(batch.state(profile.patient_id, partition), profile)
        return batch.finish()


_UNREAD: Any = object()


class _Batch:
    """Working copy of the states one batch touches."""

    def __init__(self, stage: DetectStage, view: StateView) -> None:
        self.stage = stage
        self.view = view
        self.loaded: dict[str, tuple[int, Any, bytes | None]] = {}
        self.loaded_on: dict[int, set[str]] = {}  # partition -> its patients in ``loaded`` (for ticks)
        self.result = StageResult()
        self.stored_watermarks: dict[int, datetime | None] = {}  # read from the view once per partition
        self.next_tick: dict[int, datetime] = {}  # partition -> the first tick boundary after its watermark

    def state(self, patient_id: str, partition: int) -> Any:
        hit = self.loaded.get(patient_id)
        if hit is not None:
            return hit[1]
        dirty = self.stage.dirty.get(patient_id)
        if dirty is not None:
            self._load(patient_id, dirty)
            return dirty[1]
        if patient_id in self.stage.sealed.pending:  # the last checkpoint's: encode it before it changes
            sealed = self.stage.sealed.take(patient_id)
            self._load(patient_id, sealed)
            return sealed[1]
        data = self.view.state_bytes(patient_id, partition)
        cached = self.stage.cache.pop(patient_id, None)
        if data is None:
            st = self.stage.monitor.new_state(self.stage.profile_for(patient_id))
        elif cached is not None and cached[0] == data:
            st = cached[1]
        else:
            st = self.stage.state_from_bytes(data)
        self._load(patient_id, (partition, st, data))
        return st

    def _load(self, patient_id: str, entry: tuple[int, Any, bytes | None]) -> None:
        self.loaded[patient_id] = entry
        self.loaded_on.setdefault(entry[0], set()).add(patient_id)

    def advance_watermark(self, partition: int, t: datetime) -> None:
        if partition in self.result.watermarks:
            wm: datetime | None = self.result.watermarks[partition]
        else:
            wm = self.stored_watermarks.get(partition, _UNREAD)
            if wm is _UNREAD:
                wm = self.stored_watermarks[partition] = self.view.watermark(partition)
        if wm is not None and t <= wm:
            return
        every = self.stage.tick_every
        if wm is not None:
            due = self.next_tick.get(partition)
            if due is None:
                due = self.next_tick[partition] = tick_boundary(wm, every) + every
            if t >= due:  # t is past the boundary after the watermark's: tick at t's boundary
                now = tick_boundary(t, every)
                self.next_tick[partition] = now + every
                known = set(self.view.patients(partition))
                known.update(self.loaded_on.get(partition, ()))
                for pid in sorted(known):
                    self.result.events.extend(self.stage.monitor.tick(self.state(pid, partition), now))
        self.result.watermarks[partition] = t

    def finish(self) -> StageResult:
        """Encode the states that changed (unchanged ones are not rewritten to the changelog); in
        deferred mode mark every state the batch used dirty instead (``result.touched``)."""
        if self.stage.deferred:
            self.stage.dirty.update(self.loaded)
            self.result.touched = {pid: part for pid, (part, _, _) in self.loaded.items()}
            return self.result
        for pid, (part, st, before) in self.loaded.items():
            data = st.to_bytes()
            if data != before:
                self.result.states[pid] = (part, data)
            self.stage.keep_decoded(pid, data, st)
        return self.result
