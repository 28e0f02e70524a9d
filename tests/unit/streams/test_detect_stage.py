"""The detect stage (the worker's logic without Faust) on a simulated cohort with the real monitor."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from detectors.monitor import MonitorConfig, PatientMonitor, PatientState
from ingest.episodes import PatientProfile
from ingest.reading import Reading
from ingest.simulator.cohort import simulate_readings
from ingest.simulator.config import CohortConfig
from streams.detect import DetectStage, DictStateView, Snapshot, tick_boundary
from streams.partitioning import partition_for

PARTITIONS = 3
TICK = timedelta(minutes=30)


@pytest.fixture(scope="module")
def items() -> list[tuple[int, Reading]]:
    readings = simulate_readings(CohortConfig(patients=6, days=1.5, seed=3, episode_rate=1.0))
    return [(partition_for(r.patient_id.encode(), PARTITIONS), r) for r in readings]


def stage(monitor: Any = None) -> DetectStage:
    return DetectStage(
        monitor or PatientMonitor(MonitorConfig(warmup_readings=10)), PatientState.from_bytes, tick_every=TICK
    )


def run_in_batches(items: list[tuple[int, Reading]], size: int) -> tuple[list[dict[str, Any]], DictStateView]:
    view = DictStateView()
    events: list[dict[str, Any]] = []
    for i in range(0, len(items), size):
        result = stage().run(items[i : i + size], view)  # a fresh stage: all state comes from the bytes
        view.apply(result)
        events.extend(e.to_dict() for e in result.events)
    return events, view


def test_alerts_and_state_do_not_depend_on_batching_or_restarts(items) -> None:
    whole, view_whole = run_in_batches(items, len(items))
    for size in (1, 97, 500):
        events, view = run_in_batches(items, size)
        assert events == whole, f"batch size {size} changed the alert decisions"
        assert view.states == view_whole.states and view.watermarks == view_whole.watermarks
    assert any(e["status"] == "raised" for e in whole)


def test_deferred_states_decide_like_states_stored_after_every_batch(items) -> None:
    """The worker's mode: states stay dirty in the stage across batches and are encoded at checkpoints."""
    expected, expected_view = run_in_batches(items, 97)
    view, events = DictStateView(), []
    monitor = PatientMonitor(MonitorConfig(warmup_readings=10))
    deferred = DetectStage(monitor, PatientState.from_bytes, tick_every=TICK, deferred=True)
    for k, i in enumerate(range(0, len(items), 97)):
        result = deferred.run(items[i : i + 97], view)
        assert not result.states and result.touched
        view.apply(result)
        events.extend(e.to_dict() for e in result.events)
        if k % 4 == 3:
            view.store(deferred.checkpoint())
            assert not deferred.dirty
    view.store(deferred.checkpoint())
    assert events == expected
    assert view.states == expected_view.states and view.watermarks == expected_view.watermarks


def test_a_bounded_cache_keeps_the_most_recently_used_states_and_decides_the_same(items) -> None:
    """With fewer cache places than patients, the least recently used states are dropped and decoded
    again from the table when their next reading comes; the decisions do not change."""
    expected, expected_view = run_in_batches(items, 97)
    decoded: list[str] = []

    def from_bytes(data: bytes) -> PatientState:
        st = PatientState.from_bytes(data)
        decoded.append(st.patient_id)
        return st

    view, events = DictStateView(), []
    bounded = DetectStage(
        PatientMonitor(MonitorConfig(warmup_readings=10)),
        from_bytes,
        tick_every=TICK,
        deferred=True,
        cache_size=2,
    )
    for i in range(0, len(items), 97):
        result = bounded.run(items[i : i + 97], view)
        view.apply(result)
        events.extend(e.to_dict() for e in result.events)
        snapshot = bounded.seal()
        order = list(snapshot.pending)
        bounded.encode_sealed(snapshot)
        view.store(snapshot.changed)
        bounded.unseal(snapshot)
        assert list(bounded.cache) == order[-2:], "the last two states encoded, the latest last"
    assert events == expected
    assert view.states == expected_view.states
    assert len(set(decoded)) == 6, "every patient was dropped from the cache at some point and decoded again"


def test_reusing_a_cached_state_makes_it_the_most_recently_used() -> None:
    stage = DetectStage(PatientMonitor(), PatientState.from_bytes, cache_size=2)
    for pid in ("a", "b", "a", "c"):
        stage.keep_decoded(pid, b"{}", PatientState(pid))
    assert list(stage.cache) == ["a", "c"]
    unbounded = DetectStage(PatientMonitor(), PatientState.from_bytes)
    for pid in "abcdef":
        unbounded.keep_decoded(pid, b"{}", PatientState(pid))
    assert len(unbounded.cache) == 6


@dataclass
class StoringView:
    """The worker's reads: a state the checkpoint being stored has encoded, else the table's."""

    table: DictStateView
    storing: Snapshot | None = None

    def state_bytes(self, patient_id: str, partition: int) -> bytes | None:
        if self.storing is not None and patient_id in self.storing.changed:
            return self.storing.changed[patient_id][1]
        return self.table.state_bytes(patient_id, partition)

    def patients(self, partition: int) -> Iterable[str]:
        return self.table.patients(partition)

    def watermark(self, partition: int) -> datetime | None:
        return self.table.watermark(partition)


def test_a_sealed_checkpoint_holds_the_states_as_they_were_however_late_they_are_encoded(items) -> None:
    """The worker's checkpoints: states are sealed at once and encoded later, some in the background
    and the others when a batch first touches them; the snapshot holds each state as it was at the
    seal, and the decisions are those of states stored after every batch."""
    expected, expected_view = run_in_batches(items, 97)
    table, events = DictStateView(), []
    view = StoringView(table)
    deferred = DetectStage(
        PatientMonitor(MonitorConfig(warmup_readings=10)),
        PatientState.from_bytes,
        tick_every=TICK,
        deferred=True,
    )
    snapshots, in_background, by_batches = [], 0, 0

    def stored(snapshot: Snapshot) -> None:
        deferred.encode_sealed(snapshot)
        table.store(snapshot.changed)
        deferred.unseal(snapshot)

    for k, i in enumerate(range(0, len(items), 97)):
        pending = len(deferred.sealed.pending)
        result = deferred.run(items[i : i + 97], view)
        by_batches += pending - len(deferred.sealed.pending)
        table.apply(result)
        events.extend(e.to_dict() for e in result.events)
        if k % 4 == 3:
            if view.storing is not None:
                stored(view.storing)
            at_seal = {pid: st.to_bytes() for pid, (_, st, _) in deferred.dirty.items()}
            view.storing = deferred.seal()
            assert (
                not deferred.dirty and len(view.storing.pending) == len(at_seal) and not view.storing.changed
            )
            snapshots.append((view.storing, at_seal))
            in_background += len(at_seal) - deferred.encode_sealed(view.storing, limit=2)
    if view.storing is not None:
        stored(view.storing)
    table.store(deferred.checkpoint())
    for snapshot, at_seal in snapshots:
        assert not snapshot.pending
        assert {pid: data for pid, (_, data) in snapshot.changed.items()} == {
            pid: data for pid, data in at_seal.items() if pid in snapshot.changed
        }
    assert in_background > 0 and by_batches > 0
    assert events == expected
    assert table.states == expected_view.states and table.watermarks == expected_view.watermarks


def test_a_replayed_batch_is_all_duplicates_and_changes_nothing(items) -> None:
    view = DictStateView()
    first = stage().run(items, view)
    view.apply(first)
    again = stage().run(items[-200:], view)  # the monitor remembers each patient's recent reading ids
    assert again.duplicates == 200
    assert again.readings == [] and again.events == [] and again.states == {}


class TickSpy:
    def __init__(self) -> None:
        self.monitor = PatientMonitor(MonitorConfig(warmup_readings=10))
        self.ticks: list[tuple[str, datetime]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.monitor, name)

    def tick(self, state: PatientState, now: datetime) -> list[Any]:
        self.ticks.append((state.patient_id, now))
        return self.monitor.tick(state, now)


def test_every_patient_of_a_partition_is_ticked_at_event_time_boundaries(items) -> None:
    spy = TickSpy()
    stage(spy).run(items, DictStateView())
    assert spy.ticks, "a day and a half of data crosses many tick boundaries"
    assert all(now == tick_boundary(now, TICK) for _, now in spy.ticks)
    # a patient known on a partition is ticked at each boundary that partition crosses after it appeared
    patients_by_partition: dict[int, set[str]] = {}
    for part, r in items:
        patients_by_partition.setdefault(part, set()).add(r.patient_id)
    last = max(now for _, now in spy.ticks)
    assert last >= max(r.time for _, r in items) - TICK
    ticked_last = {pid for pid, now in spy.ticks if now == last}
    assert ticked_last
    assert all(pids <= ticked_last or not pids & ticked_last for pids in patients_by_partition.values())


def test_tick_boundary_is_utc_aligned() -> None:
    assert tick_boundary(datetime(2024, 1, 1, 8, 59, tzinfo=UTC), TICK) == datetime(
        2024, 1, 1, 8, 30, tzinfo=UTC
    )


def test_cheap_line_protocol_equals_influxdb_client_points(items: list[tuple[int, Reading]]) -> None:
    from streams.points import news2_line, news2_point, reading_line, reading_point

    result = stage().run(items, DictStateView())
    assert result.readings and result.news2
    for r, scored in result.readings:
        assert reading_line(r, scored) == reading_point(r, scored).to_line_protocol()
        assert reading_line(r) == reading_point(r).to_line_protocol()
    for r, n in result.news2:
        assert news2_line(r.patient_id, r.time, r.reading_id, n) == (
            news2_point(r.patient_id, r.time, r.reading_id, n).to_line_protocol()
        )


def test_one_stage_reusing_decoded_states_decides_like_fresh_stages(items: list[tuple[int, Reading]]) -> None:
    """The stage's cache of decoded states (one long-lived stage, as in the worker) changes nothing."""
    expected, expected_view = run_in_batches(items, 97)
    view, events, one = DictStateView(), [], stage()
    for i in range(0, len(items), 97):
        result = one.run(items[i : i + 97], view)
        view.apply(result)
        events.extend(e.to_dict() for e in result.events)
    assert events == expected
    assert view.states == expected_view.states
    assert one.cache


def test_a_profile_switches_the_scale_and_keeps_what_was_learned(items: list[tuple[int, Reading]]) -> None:
    _, view = run_in_batches(items, 500)
    pid = items[0][1].patient_id
    part = items[0][0]
    before = PatientState.from_bytes(view.states[pid])
    result = stage().apply_profiles(
        [
            (part, PatientProfile(patient_id=pid, spo2_scale=2)),
            (1, PatientProfile(patient_id="new", spo2_scale=2)),
        ],
        view,
    )
    view.apply(result)
    after = PatientState.from_bytes(view.states[pid])
    assert (before.spo2_scale, after.spo2_scale) == (1, 2)
    after.spo2_scale = 1
    assert after.to_bytes() == before.to_bytes()  # nothing else changed
    assert PatientState.from_bytes(view.states["new"]).spo2_scale == 2 and view.partition_of["new"] == 1
    assert result.events == [] and set(result.states) == {pid, "new"}
