"""Event-time heartbeats: when a silent partition gets one, and what it does in the detect stage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from detectors.monitor import MonitorConfig, PatientMonitor, PatientState
from ingest.reading import Reading, make_reading
from streams.codecs import Undecodable
from streams.detect import DetectStage, DictStateView
from streams.heartbeats import Heartbeat, SilenceClock, decode_heartbeat, is_heartbeat

T0 = datetime(2025, 1, 6, 8, tzinfo=UTC)


class Wall:
    """A wall clock the test moves."""

    def __init__(self, t: float = 10_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_a_partition_silent_long_enough_gets_a_heartbeat_at_its_watermark_plus_the_silence() -> None:
    wall = Wall()
    clock = SilenceClock(after_s=60.0, now=wall)
    clock.moved(0, T0)
    wall.t += 59.0
    assert clock.due([0], lambda p: (None, None)) == {}
    wall.t += 1.0
    assert clock.due([0], lambda p: (None, None)) == {0: Heartbeat(T0 + timedelta(seconds=60))}
    wall.t += 30.0
    assert clock.due([0], lambda p: (None, None)) == {}, "the heartbeat just sent restarts the silence"
    wall.t += 30.0
    assert clock.due([0], lambda p: (None, None)) == {0: Heartbeat(T0 + timedelta(seconds=120))}


def test_a_reading_moving_the_watermark_restarts_the_silence_but_an_older_one_does_not() -> None:
    wall = Wall()
    clock = SilenceClock(after_s=60.0, now=wall)
    clock.moved(0, T0)
    wall.t += 50.0
    clock.moved(0, T0 + timedelta(seconds=40))
    wall.t += 50.0
    assert clock.due([0], lambda p: (None, None)) == {}
    clock.moved(0, T0 + timedelta(seconds=10))  # e.g. the heartbeat's own record handled late: no move
    wall.t += 10.0
    assert clock.due([0], lambda p: (None, None)) == {0: Heartbeat(T0 + timedelta(seconds=100))}


def test_silence_through_an_outage_counts_from_the_stored_wall_time() -> None:
    """A worker that gets a partition whose watermark last moved two hours ago heartbeats at once."""
    wall = Wall()
    clock = SilenceClock(after_s=60.0, now=wall)
    due = clock.due([0, 1, 2], lambda p: {0: (T0, wall.t - 7200.0), 1: (T0, None), 2: (None, None)}[p])
    assert due == {0: Heartbeat(T0 + timedelta(hours=2))}
    wall.t += 60.0
    assert set(clock.due([0, 1, 2], lambda p: (None, None))) == {0, 1}, "1: silent since first seen"


def test_a_partition_no_longer_owned_is_forgotten() -> None:
    wall = Wall()
    clock = SilenceClock(after_s=60.0, now=wall)
    clock.moved(0, T0)
    clock.keep([1])
    wall.t += 120.0
    assert clock.due([0], lambda p: (T0 + timedelta(hours=1), wall.t - 60.0)) == {
        0: Heartbeat(T0 + timedelta(hours=1, seconds=60))
    }, "the anchor comes from the table again, not from before the partition was given up"


def test_heartbeat_records_round_trip_and_bad_ones_are_named() -> None:
    _, value, headers = Heartbeat(T0).record()
    assert is_heartbeat(dict(headers)) and not is_heartbeat(None) and not is_heartbeat({"other": b"1"})
    assert decode_heartbeat(value) == Heartbeat(T0)
    for bad in (b"", b"[]", b'{"heartbeat": 5}', b'{"heartbeat": "2025-01-06T08:00:00"}'):
        with pytest.raises(Undecodable) as exc:
            decode_heartbeat(bad)
        assert exc.value.field == "heartbeat"


def hourly_spo2(patient: str, hours: int) -> list[Reading]:
    return [
        make_reading(patient_id=patient, device_id="ox", metric="spo2", value=96, time=at)
        for at in [T0 + timedelta(hours=h) for h in range(hours)]
    ]


def stage() -> DetectStage:
    return DetectStage(PatientMonitor(MonitorConfig(warmup_readings=5)), PatientState.from_bytes)


def test_a_heartbeat_ticks_a_lone_patients_partition_into_a_data_gap_alert() -> None:
    """The clinical point: an oximeter that stops on an otherwise silent partition raises a data gap."""
    readings = hourly_spo2("p-1", 12)
    last = readings[-1].time
    view = DictStateView()
    view.apply(stage().run([(0, r) for r in readings], view))

    quiet = stage().run([(0, Heartbeat(last + timedelta(minutes=20)))], view)
    assert quiet.events == [] and quiet.readings == [] and quiet.heartbeats == 1
    view.apply(quiet)
    gap = stage().run([(0, Heartbeat(last + timedelta(hours=4)))], view)
    decided = [(e.patient_id, e.kind.value, e.status.value) for e in gap.events]
    assert decided == [("p-1", "data_gap", "raised")]
    assert view.watermarks[0] < gap.watermarks[0] == last + timedelta(hours=4)

    before = stage().run([(0, r) for r in readings], DictStateView())
    assert before.events == [], "no data gap without the heartbeat"


def test_a_heartbeat_decides_the_same_whether_batched_with_the_readings_or_alone() -> None:
    readings = hourly_spo2("p-1", 12) + hourly_spo2("p-2", 10)
    items: list[tuple[int, Reading | Heartbeat]] = [(0, r) for r in readings]
    items.append((0, Heartbeat(readings[11].time + timedelta(hours=5))))
    together = stage().run(items, DictStateView())
    view = DictStateView()
    view.apply(stage().run(items[:-1], view))
    alone = stage().run(items[-1:], view)
    assert [e.to_dict() for e in together.events if e.kind.value == "data_gap"] == [
        e.to_dict() for e in alone.events
    ]
    assert {e.patient_id for e in alone.events} == {"p-1", "p-2"}


def test_a_heartbeat_escalates_an_unacknowledged_alert_when_the_device_has_gone_quiet() -> None:
    spo2 = [96, 97, 96, 95, 96, 97, 96, 85, 84]  # below the hard limit at the end, then silence
    readings = [
        make_reading(
            patient_id="p-1", device_id="ox", metric="spo2", value=v, time=T0 + timedelta(minutes=10 * i)
        )
        for i, v in enumerate(spo2)
    ]
    view = DictStateView()
    raised = stage().run([(0, r) for r in readings], view)
    view.apply(raised)
    assert ("hard_limit", "raised") in {(e.kind.value, e.status.value) for e in raised.events}
    later = stage().run([(0, Heartbeat(readings[-1].time + timedelta(minutes=45)))], view)
    assert ("hard_limit", "escalated") in {(e.kind.value, e.status.value) for e in later.events}
