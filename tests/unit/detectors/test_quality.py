"""Data-quality detectors: gaps per learned cadence, flat-lines, impossible jumps, wear time, state."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as hst

from detectors.events import AlertKind, AlertStatus, Severity
from detectors.policy import AlertPolicy, PolicyState, Signal
from detectors.quality import QualityConfig, QualityMonitor, QualityState, _Stream
from ingest.metrics import Metric
from ingest.reading import Reading, make_reading

T0 = datetime(2024, 5, 1, 0, 0, tzinfo=UTC)  # midnight UTC: wear-time days start here


def rd(metric: str, value: float, seconds: float, *, device: str = "w1", **kw: object) -> Reading:
    return make_reading(
        patient_id="p1",
        device_id=device,
        metric=metric,
        value=value,
        time=T0 + timedelta(seconds=seconds),
        **kw,  # type: ignore[arg-type]
    )


def feed(qm: QualityMonitor, st: QualityState, readings: list[Reading]) -> list[Signal]:
    return [s for r in readings for s in qm.observe(st, r)]


def kinds(signals: list[Signal]) -> list[tuple[str, str]]:
    return [(s.kind.value, s.level.value) for s in signals]


def hr_every_minute(n: int, start_s: float = 0.0) -> list[Reading]:
    return [rd("heart_rate", 60 + i % 7, start_s + 60 * i) for i in range(n)]


# -- gaps ---------------------------------------------------------------------------------------
def test_gap_after_three_expected_intervals_with_floor() -> None:
    qm, st = QualityMonitor(QualityConfig(gap_floor_minutes=10)), QualityState()
    assert feed(qm, st, hr_every_minute(10)) == []  # last reading at 540 s
    assert qm.tick(st, T0 + timedelta(seconds=540 + 600)) == []  # floor: 10 minutes, not more
    gap = qm.tick(st, T0 + timedelta(seconds=540 + 601))
    assert kinds(gap) == [("data_gap", "abnormal")]
    assert gap[0].severity is Severity.LOW and gap[0].metric == "heart_rate" and gap[0].expected_high == 1.0
    assert qm.tick(st, T0 + timedelta(hours=2)) == []  # reported once per gap
    back = qm.observe(st, rd("heart_rate", 70, 3 * 3600))
    assert kinds(back) == [("data_gap", "normal")] and "resumed" in back[0].message


def test_gap_uses_three_times_the_cadence_above_the_floor() -> None:
    qm, st = QualityMonitor(QualityConfig(gap_floor_minutes=1)), QualityState()
    feed(qm, st, [rd("spo2", 97 - i % 2, 300 * i) for i in range(8)])  # every 5 minutes, last at 2100 s
    assert qm.tick(st, T0 + timedelta(seconds=2100 + 900)) == []
    assert kinds(qm.tick(st, T0 + timedelta(seconds=2100 + 901))) == [("data_gap", "abnormal")]


def test_no_gap_while_cadence_is_unknown_unless_declared() -> None:
    late = T0 + timedelta(days=1)
    qm, st = QualityMonitor(), QualityState()
    feed(qm, st, hr_every_minute(5))  # 4 intervals < min_intervals (5)
    assert qm.tick(st, late) == []
    declared = QualityMonitor(QualityConfig(declared_cadence_s={Metric.HEART_RATE: 60.0}))
    st2 = QualityState()
    feed(declared, st2, hr_every_minute(2))
    assert kinds(declared.tick(st2, late)) == [("data_gap", "abnormal")]


def test_burst_devices_use_the_upper_quantile_of_intervals() -> None:
    qm, st = QualityMonitor(), QualityState()
    day = 86_400
    cuff = [rd("systolic_bp", 120 + j, d * day + 30 * j, device="cuff") for d in range(6) for j in range(3)]
    feed(qm, st, cuff)
    last = 5 * day + 60
    assert qm.tick(st, T0 + timedelta(seconds=last + 2 * day)) == []  # daily bursts: 3 days' grace
    assert kinds(qm.tick(st, T0 + timedelta(seconds=last + 3 * day + 1))) == [("data_gap", "abnormal")]


def test_silent_stream_is_forgotten_after_a_week() -> None:
    qm, st = QualityMonitor(), QualityState()
    feed(qm, st, hr_every_minute(10))
    qm.tick(st, T0 + timedelta(hours=1))
    gone = qm.tick(st, T0 + timedelta(days=8))
    assert kinds(gone) == [("data_gap", "normal")] and st.streams == {}


def test_a_stream_is_forgotten_once_silent_that_long_even_below_the_gap_floor() -> None:
    """Forgetting does not wait for the gap floor when it is configured shorter."""
    qm, st = QualityMonitor(QualityConfig(gap_floor_minutes=60, forget_after_days=0.01)), QualityState()
    feed(qm, st, hr_every_minute(10))  # last reading at 540 s; forgotten after 864 s of silence
    assert qm.tick(st, T0 + timedelta(seconds=540 + 864)) == [] and st.streams  # not yet
    assert qm.tick(st, T0 + timedelta(seconds=540 + 1000)) == [] and st.streams == {}  # 17 min < floor


def test_off_body_readings_are_not_data_and_out_of_order_ones_do_not_teach_cadence() -> None:
    qm, st = QualityMonitor(), QualityState()
    feed(qm, st, hr_every_minute(10))
    assert qm.observe(st, rd("heart_rate", 0, 700, quality=["off_body"])) == []
    assert qm.observe(st, rd("heart_rate", 65, 30)) == []  # older than the latest: ignored
    stream = st.streams["w1|heart_rate"]
    assert stream.last == (T0 + timedelta(seconds=540)).timestamp() and stream.intervals == [60.0] * 9


# -- flat-lines -----------------------------------------------------------------------------------
def test_flatline_after_n_repeats_and_resolves_when_values_vary() -> None:
    qm, st = QualityMonitor(QualityConfig(flatline_runs={Metric.HEART_RATE: 5})), QualityState()
    assert feed(qm, st, [rd("heart_rate", 72, 60 * i) for i in range(4)]) == []  # n-1 repeats
    flat = qm.observe(st, rd("heart_rate", 72, 240))
    assert kinds(flat) == [("flatline", "abnormal")] and "same value 72 5 times" in flat[0].message
    assert qm.observe(st, rd("heart_rate", 72, 300)) == []  # reported once
    assert kinds(qm.observe(st, rd("heart_rate", 73, 360))) == [("flatline", "normal")]
    assert feed(qm, st, [rd("steps", 0, 60 * i) for i in range(50)]) == []  # not watched for flat-lines


# -- jumps ----------------------------------------------------------------------------------------
def test_heart_rate_spike_is_implausible_and_judged_against_the_last_good_value() -> None:
    qm, st = QualityMonitor(QualityConfig(jump_normal_tail=2)), QualityState()
    feed(qm, st, [rd("heart_rate", 70, 0), rd("heart_rate", 71, 10)])
    spike = qm.observe(st, rd("heart_rate", 140, 20))
    assert kinds(spike) == [("implausible", "abnormal")] and "from 71 to 140 in 10 s" in spike[0].message
    assert kinds(qm.observe(st, rd("heart_rate", 72, 30))) == [("implausible", "normal")]  # back near 71
    assert kinds(qm.observe(st, rd("heart_rate", 73, 40))) == [("implausible", "normal")]
    assert qm.observe(st, rd("heart_rate", 74, 50)) == []  # the tail of NORMAL signals has ended


def test_step_change_slower_than_the_window_is_plausible() -> None:
    qm, st = QualityMonitor(), QualityState()
    feed(qm, st, [rd("heart_rate", 70, 0)])
    assert qm.observe(st, rd("heart_rate", 135, 31)) == []
    assert qm.observe(st, rd("heart_rate", 130, 40)) == []


@pytest.mark.parametrize(
    ("delta", "seconds", "jump"), [(2.1, 299, True), (1.9, 60, False), (2.5, 301, False)]
)
def test_temperature_jump_rule(delta: float, seconds: float, jump: bool) -> None:
    qm, st = QualityMonitor(), QualityState()
    feed(qm, st, [rd("temperature", 36.8, 0)])
    out = qm.observe(st, rd("temperature", 36.8 + delta, seconds))
    assert kinds(out) == ([("implausible", "abnormal")] if jump else [])


def test_reading_flagged_implausible_by_ingest_is_an_implausible_signal() -> None:
    qm, st = QualityMonitor(), QualityState()
    out = qm.observe(st, rd("heart_rate", 0, 0))  # make_reading flags HR 0 as implausible
    assert kinds(out) == [("implausible", "abnormal")] and out[0].value == 0.0


def test_late_readings_give_late_signals() -> None:
    qm, st = QualityMonitor(), QualityState()
    out = qm.observe(st, rd("heart_rate", 0, 0, quality=["implausible", "late"]))
    assert [s.late for s in out] == [True]
    assert [s.late for s in qm.observe(st, rd("heart_rate", 0, 10), late=True)] == [True]


# -- wear time ------------------------------------------------------------------------------------
def hr_slots(day: int, first_slot: int, n: int) -> list[Reading]:
    return [rd("heart_rate", 60 + i % 5, day * 86_400 + 300 * (first_slot + i)) for i in range(n)]


def test_wear_time_first_partial_day_not_judged_then_daily_share() -> None:
    qm, st = QualityMonitor(QualityConfig(wear_min_share=0.6)), QualityState()
    assert [s for s in feed(qm, st, hr_slots(0, 200, 10)) if s.kind is AlertKind.WEAR_TIME] == []
    day1 = feed(qm, st, hr_slots(1, 0, 144))  # half of day 1
    day2 = feed(qm, st, hr_slots(2, 0, 1))  # the first reading of day 2 closes day 1
    wear = [s for s in day1 + day2 if s.kind is AlertKind.WEAR_TIME]
    assert kinds(wear) == [("wear_time", "abnormal")]
    assert wear[0].value == pytest.approx(50.0) and wear[0].expected_low == pytest.approx(60.0)
    assert wear[0].message == "Wearable worn for 50% of 2024-05-02 (UTC); at least 60% expected"
    feed(qm, st, hr_slots(2, 1, 250))
    closed = [s for s in qm.tick(st, T0 + timedelta(days=3)) if s.kind is AlertKind.WEAR_TIME]
    assert kinds(closed) == [("wear_time", "normal")] and closed[0].value == pytest.approx(251 / 288 * 100)
    empty = [s for s in qm.tick(st, T0 + timedelta(days=4, hours=1)) if s.kind is AlertKind.WEAR_TIME]
    assert kinds(empty) == [("wear_time", "abnormal")] and empty[0].value == 0.0


def test_wear_time_counts_only_wearable_heart_rate() -> None:
    qm, st = QualityMonitor(), QualityState()
    feed(qm, st, [rd("heart_rate", 70, 60 * i, source="home_device") for i in range(20)])
    feed(qm, st, [rd("spo2", 97, 60 * i) for i in range(20)])
    assert st.wear.day is None


# -- state and composition ----------------------------------------------------------------------------
# one step: ("run", device, metric, n, interval): n readings of one stream, one every interval seconds
# from the last step on; ("late", device, metric, seconds before the last step); ("ticks", n): a tick
# every minute for n minutes; ("hours", n): a tick every hour for n hours; ("jump", seconds): one tick
# that long after the last step; ("restore",)
_stream = (hst.sampled_from(["w1", "w1", "w2"]), hst.sampled_from(["heart_rate", "spo2"]))
_steps = hst.lists(
    hst.one_of(
        hst.tuples(hst.just("run"), *_stream, hst.integers(1, 12), hst.floats(10, 900)),
        hst.tuples(hst.just("late"), *_stream, hst.floats(0, 86_400)),
        hst.tuples(hst.just("ticks"), hst.integers(1, 240)),
        hst.tuples(hst.just("hours"), hst.integers(1, 200)),
        hst.tuples(hst.just("jump"), hst.floats(0, 9e5)),
        hst.tuples(hst.just("restore")),
    ),
    max_size=60,
)


@given(steps=_steps)
@example(  # found by this test: a stream due for a gap after a week is forgotten first
    steps=[
        ("run", "w1", "spo2", 5, 10.0),
        ("hours", 68),
        ("run", "w1", "heart_rate", 2, 10.0),
        ("late", "w1", "spo2", 43191.0),
        ("hours", 71),
        ("run", "w1", "heart_rate", 1, 10.0),
        ("hours", 85),
    ]
)
@settings(max_examples=400, deadline=None)
def test_a_tick_skipped_by_the_quiet_bound_changes_nothing(steps: list[tuple]) -> None:
    """``QualityState.quiet_until`` lets a tick skip the per-stream loop; every decision and every state
    equals those of ticks that check every stream (the bound forgotten before each tick), for any
    order of readings (late ones too), ticks and state round trips (a checkpoint and restore)."""
    qm = QualityMonitor()
    fast, full = QualityState(), QualityState()
    clock = 0.0  # event time so far; ticks only move forward, as a partition's watermark does
    for step in steps:
        if step[0] == "run":
            _, device, metric, n, interval = step
            for _ in range(n):
                clock += interval
                r = rd(metric, 70.0, round(clock), device=device)
                assert qm.observe(fast, r) == qm.observe(full, r)
        elif step[0] == "late":
            _, device, metric, before = step
            r = rd(metric, 70.0, round(max(0.0, clock - before)), device=device)
            assert qm.observe(fast, r) == qm.observe(full, r)
        elif step[0] in ("ticks", "hours", "jump"):
            kind, n = step
            for seconds in [n] if kind == "jump" else [60.0 if kind == "ticks" else 3600.0] * n:
                clock += seconds
                full.quiet_until = -math.inf
                now = T0 + timedelta(seconds=round(clock))
                assert qm.tick(fast, now) == qm.tick(full, now)
        else:
            fast = QualityState.from_dict(orjson.loads(orjson.dumps(fast.to_dict())))
        assert fast.to_dict() == full.to_dict()


def test_state_round_trip_and_size() -> None:
    qm, st = QualityMonitor(), QualityState()
    feed(qm, st, hr_every_minute(400))
    feed(qm, st, [rd("spo2", 96 + i % 3, 60 * i + 5, device="ox") for i in range(400)])
    feed(qm, st, [rd("temperature", 36.5, 3600 * i, device="th") for i in range(6)])
    data = orjson.dumps(st.to_dict())
    assert len(data) < 1024, len(data)
    clone = QualityState.from_dict(orjson.loads(data))
    assert clone == st
    nxt = rd("heart_rate", 150, 60 * 400)
    assert qm.observe(clone, nxt) == qm.observe(st, nxt)
    now = T0 + timedelta(days=1, hours=2)
    assert qm.tick(clone, now) == qm.tick(st, now) and clone == st


def test_state_round_trip_keeps_zero_values() -> None:
    """A stream whose last value is 0 (a sensor reading zero) keeps it through a round trip."""
    st = QualityState()
    st.streams["watch|steps"] = _Stream(last=60.0, value=0.0, run=4, ref=0.0, ref_t=60.0)
    clone = QualityState.from_dict(orjson.loads(orjson.dumps(st.to_dict())))
    assert clone == st


def test_flatline_raises_and_resolves_through_the_policy() -> None:
    qm, st = QualityMonitor(QualityConfig(flatline_runs={Metric.HEART_RATE: 3})), QualityState()
    policy, pst = AlertPolicy(), PolicyState()
    readings = [rd("heart_rate", 72, 60 * i) for i in range(3)] + [rd("heart_rate", 80, 180)]
    events = [e for r in readings for s in qm.observe(st, r) for e in policy.observe(pst, "p1", s)]
    assert [(e.kind, e.status) for e in events] == [
        (AlertKind.FLATLINE, AlertStatus.RAISED),
        (AlertKind.FLATLINE, AlertStatus.RESOLVED),
    ]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"cadence_quantile": 0.0}, "cadence_quantile"),
        ({"min_intervals": 0}, "min_intervals"),
        ({"wear_slot_minutes": 7}, "wear_slot_minutes"),
        ({"wear_min_share": 1.5}, "wear_min_share"),
    ],
)
def test_config_validation_names_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=rf"^{field}"):
        QualityConfig(**kwargs)  # type: ignore[arg-type]
