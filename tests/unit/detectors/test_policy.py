"""The alert policy state machine: persistence, dedup, escalation, hysteresis, ack/snooze, late data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.events import (
    AckAction,
    Acknowledgement,
    AlertEvent,
    AlertKind,
    AlertStatus,
    Severity,
    alert_id_for,
)
from detectors.policy import AlertPolicy, Level, PolicyConfig, PolicyState, Signal

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
PID = "patient-0042"
A, B, N = Level.ABNORMAL, Level.BORDERLINE, Level.NORMAL


def sig(
    minute: float,
    level: Level = A,
    severity: Severity = Severity.MEDIUM,
    *,
    kind: AlertKind = AlertKind.HARD_LIMIT,
    metric: str | None = "spo2",
    late: bool = False,
) -> Signal:
    return Signal(
        kind=kind,
        metric=metric,
        time=T0 + timedelta(minutes=minute),
        level=level,
        severity=severity,
        message=f"SpO2 {87 if level is A else 95} % (test)",
        value=87.0 if level is A else 95.0,
        expected_low=88.0,
        expected_high=100.0,
        score=0.97,
        news2_total=3,
        news2_subscores={"spo2": 3},
        late=late,
    )


def at(minute: float) -> datetime:
    return T0 + timedelta(minutes=minute)


def run(policy: AlertPolicy, state: PolicyState, *signals: Signal) -> list[AlertEvent]:
    return [e for s in signals for e in policy.observe(state, PID, s)]


def statuses(events: list[AlertEvent]) -> list[tuple[str, str]]:
    return [(e.status.value, e.severity.label) for e in events]


NOF_M = PolicyConfig(persist_n=2, persist_m=3, persist_minutes=None)


def test_raises_only_after_n_of_m() -> None:
    policy, state = AlertPolicy(NOF_M), PolicyState()
    assert run(policy, state, sig(0), sig(1, N), sig(2, N)) == []  # n-1 abnormal: no alert
    assert run(policy, state, sig(3), sig(4, N)) == []  # the first abnormal has left the window of 3
    events = run(policy, state, sig(5))  # abnormal, normal, abnormal: 2 of the last 3
    assert statuses(events) == [("raised", "medium")]
    e = events[0]
    assert e.alert_id == alert_id_for(PID, "hard_limit", "spo2", at(5)) and e.start == at(5) == e.time
    assert "abnormal in 2 of the last 3 readings" in e.message and e.message.startswith("SpO2 87 %")
    assert (e.metric, e.value, e.expected_low, e.expected_high, e.score) == ("spo2", 87.0, 88.0, 100.0, 0.97)
    assert (e.news2_total, e.news2_subscores, e.late) == (3, {"spo2": 3}, False)
    assert PID not in e.message


def test_borderline_never_raises() -> None:
    policy, state = AlertPolicy(NOF_M), PolicyState()
    assert run(policy, state, sig(0), *(sig(i, B) for i in range(1, 10))) == []


def test_raises_after_minutes_of_persistence() -> None:
    policy = AlertPolicy(PolicyConfig(persist_n=3, persist_m=3, persist_minutes=10))
    state = PolicyState()
    assert run(policy, state, sig(0), sig(5, B), sig(9.9)) == []
    events = run(policy, state, sig(10))
    assert statuses(events) == [("raised", "medium")] and "abnormal for 10 minutes" in events[0].message
    state = PolicyState()  # a NORMAL signal restarts the clock
    assert run(policy, state, sig(0), sig(5, N), sig(11), sig(20)) == []


def test_deduplicates_per_kind_and_metric() -> None:
    policy, state = AlertPolicy(NOF_M), PolicyState()
    raised = run(policy, state, sig(0), sig(1))
    assert run(policy, state, sig(2), sig(3), sig(4, B)) == []
    other = run(policy, state, sig(5, metric="heart_rate"), sig(6, metric="heart_rate"))
    news2 = run(
        policy, state, sig(7, kind=AlertKind.NEWS2, metric=None), sig(8, kind=AlertKind.NEWS2, metric=None)
    )
    assert len({raised[0].alert_id, other[0].alert_id, news2[0].alert_id}) == 3
    assert set(state.open_alerts()) == {
        (AlertKind.HARD_LIMIT, "spo2"),
        (AlertKind.HARD_LIMIT, "heart_rate"),
        (AlertKind.NEWS2, None),
    }


def test_worse_signal_escalates_at_once_but_better_does_not_deescalate() -> None:
    policy, state = AlertPolicy(NOF_M), PolicyState()
    run(policy, state, sig(0), sig(1))
    events = run(policy, state, sig(2, severity=Severity.HIGH))
    assert statuses(events) == [("escalated", "high")] and "worsened" in events[0].message
    assert run(policy, state, sig(3, severity=Severity.MEDIUM)) == []


def test_escalates_when_unresolved_and_unacknowledged() -> None:
    policy, state = (
        AlertPolicy(PolicyConfig(persist_n=1, persist_m=1, escalate_after_minutes=30)),
        PolicyState(),
    )
    run(policy, state, sig(0, severity=Severity.LOW))
    assert policy.tick(state, PID, at(29.9)) == []
    first = policy.tick(state, PID, at(30))
    assert statuses(first) == [("escalated", "medium")] and "unresolved for 30 minutes" in first[0].message
    assert policy.tick(state, PID, at(45)) == []
    assert statuses(policy.tick(state, PID, at(60))) == [("escalated", "high")]
    assert policy.tick(state, PID, at(90)) == []  # max_escalations (2) reached


def test_data_quality_alerts_do_not_escalate_by_time() -> None:
    policy, state = AlertPolicy(PolicyConfig(escalate_after_minutes=30)), PolicyState()
    gap = sig(0, severity=Severity.LOW, kind=AlertKind.DATA_GAP, metric="heart_rate")
    assert statuses(run(policy, state, gap)) == [("raised", "low")]  # immediate kind: no persistence
    assert policy.tick(state, PID, at(300)) == []
    resumed = Signal(
        AlertKind.DATA_GAP, "heart_rate", at(301), N, message="Heart rate data resumed after 301 minutes"
    )
    events = run(policy, state, resumed)
    assert [e.message for e in events] == ["Resolved: Heart rate data resumed after 301 minutes"]


def test_hysteresis_resolve_after_k_normals_borderline_keeps_open() -> None:
    policy, state = AlertPolicy(NOF_M), PolicyState()
    raised = run(policy, state, sig(0), sig(1))
    assert run(policy, state, sig(2, N), sig(3, N), sig(4, B), sig(5, N), sig(6, N)) == []
    events = run(policy, state, sig(7, N))
    assert statuses(events) == [("resolved", "medium")]
    e = events[0]
    assert e.alert_id == raised[0].alert_id and e.end == at(7) and e.start == at(1)
    assert e.message == "Resolved: SpO2 95 % (test) (3 normal readings in a row)" and e.value == 95.0
    assert state.open_alerts() == {} and state.tracks == {}  # nothing left to remember
    again = run(policy, state, sig(8), sig(9))  # a new episode is a new alert
    assert statuses(again) == [("raised", "medium")] and again[0].alert_id != raised[0].alert_id


def test_time_based_resolve_and_borderline_keeps_alert_open() -> None:
    policy = AlertPolicy(
        PolicyConfig(persist_n=1, persist_m=1, resolve_after_minutes=60, escalate_after_minutes=999)
    )
    state = PolicyState()
    run(policy, state, sig(0), sig(50, B))
    assert policy.tick(state, PID, at(109)) == []  # borderline at 50 keeps it open
    events = policy.tick(state, PID, at(110))
    assert (
        statuses(events) == [("resolved", "medium")]
        and "nothing abnormal for 60 minutes" in events[0].message
    )


def test_immediate_kinds_resolve_on_one_normal_and_not_by_time() -> None:
    policy, state = AlertPolicy(PolicyConfig(resolve_after_minutes=60)), PolicyState()
    run(policy, state, sig(0, severity=Severity.LOW, kind=AlertKind.DATA_GAP))
    assert all(e.status is not AlertStatus.RESOLVED for e in policy.tick(state, PID, at(600)))
    events = run(policy, state, sig(601, N, kind=AlertKind.DATA_GAP))
    assert statuses(events) == [("resolved", "low")]


def _ack(
    alert_id: str,
    minute: float,
    action: AckAction = AckAction.ACKNOWLEDGE,
    snooze_minutes: float | None = None,
    note: str | None = None,
) -> Acknowledgement:
    return Acknowledgement(alert_id, PID, "nurse-7", action, at(minute), snooze_minutes, note)


def test_acknowledged_alert_is_quiet_until_it_worsens() -> None:
    policy, state = AlertPolicy(NOF_M), PolicyState()
    alert_id = run(policy, state, sig(0), sig(1))[0].alert_id
    acked = policy.acknowledge(state, _ack(alert_id, 2, note="called patient"))
    assert statuses(acked) == [("acknowledged", "medium")]
    assert acked[0].actor == "nurse-7" and acked[0].message == "Acknowledged (called patient)"
    assert run(policy, state, sig(3), sig(4)) == []  # same severity: no re-notification
    assert policy.tick(state, PID, at(100)) == []  # acknowledged: no time escalation
    worse = run(policy, state, sig(101, severity=Severity.HIGH))
    assert statuses(worse) == [("escalated", "high")]
    assert statuses(policy.tick(state, PID, at(131))) == [("escalated", "high")]  # un-acknowledged again


def test_snooze_expiry_re_raises_if_still_open() -> None:
    policy, state = AlertPolicy(NOF_M), PolicyState()
    alert_id = run(policy, state, sig(0), sig(1))[0].alert_id
    snoozed = policy.acknowledge(state, _ack(alert_id, 2, AckAction.SNOOZE, snooze_minutes=15))
    assert statuses(snoozed) == [("snoozed", "medium")] and snoozed[0].message == "Snoozed for 15 minutes"
    run(policy, state, sig(5))
    assert policy.tick(state, PID, at(16.9)) == []
    events = policy.tick(state, PID, at(17))
    assert statuses(events) == [("raised", "medium")]
    assert events[0].alert_id == alert_id and events[0].message.startswith(
        "Snooze ended and the condition persists"
    )
    assert policy.tick(state, PID, at(46)) == []
    assert statuses(policy.tick(state, PID, at(47))) == [("escalated", "high")]  # it escalates again


def test_snooze_default_minutes_and_resolved_during_snooze() -> None:
    policy, state = AlertPolicy(PolicyConfig(persist_n=1, persist_m=1, snooze_minutes=20)), PolicyState()
    alert_id = run(policy, state, sig(0))[0].alert_id
    assert (
        policy.acknowledge(state, _ack(alert_id, 1, AckAction.SNOOZE))[0].message == "Snoozed for 20 minutes"
    )
    assert statuses(run(policy, state, sig(2, N), sig(3, N), sig(4, N))) == [("resolved", "medium")]
    assert policy.tick(state, PID, at(30)) == []
    assert policy.acknowledge(state, _ack(alert_id, 31)) == []  # closed or unknown: nothing
    open_id = run(policy, state, sig(40))[0].alert_id
    with pytest.raises(ValueError, match=r"^snooze_minutes: "):
        policy.acknowledge(state, _ack(open_id, 41, AckAction.SNOOZE, snooze_minutes=-5))


def test_late_signals_open_low_alerts_only_and_never_page() -> None:
    policy, state = AlertPolicy(NOF_M), PolicyState()
    events = run(
        policy, state, sig(0, severity=Severity.HIGH, late=True), sig(1, severity=Severity.HIGH, late=True)
    )
    assert (
        statuses(events) == [("raised", "low")]
        and events[0].late
        and "late-arriving data" in events[0].message
    )
    assert policy.tick(state, PID, at(100)) == []  # a late alert does not escalate by time
    confirmed = run(policy, state, sig(101, severity=Severity.HIGH))  # current data confirms it
    assert statuses(confirmed) == [("escalated", "high")] and not confirmed[0].late
    assert "confirmed by current data" in confirmed[0].message


def test_late_signals_do_not_touch_a_current_alert() -> None:
    policy, state = AlertPolicy(NOF_M), PolicyState()
    run(policy, state, sig(10), sig(11))
    before = state.to_dict()
    assert run(policy, state, sig(1, N, late=True), sig(2, N, late=True), sig(3, N, late=True)) == []
    assert run(policy, state, sig(4, severity=Severity.HIGH, late=True)) == []
    assert state.to_dict() == before


def test_state_round_trip_is_compact_and_behaves_the_same() -> None:
    policy = AlertPolicy(NOF_M)
    state = PolicyState()
    alert_id = run(policy, state, sig(0), sig(1), sig(2, metric="heart_rate"))[0].alert_id
    policy.acknowledge(state, _ack(alert_id, 3, AckAction.SNOOZE, snooze_minutes=10))
    data = orjson.dumps(state.to_dict())
    assert len(data) < 700, len(data)
    clone = PolicyState.from_dict(orjson.loads(data))
    assert clone == state
    for s in (sig(4, N), sig(5, N), sig(6, metric="heart_rate")):
        assert policy.observe(clone, PID, s) == policy.observe(state, PID, s)
    assert policy.tick(clone, PID, at(14)) == policy.tick(state, PID, at(14))
    assert clone == state


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"persist_n": 4, "persist_m": 3}, "persist_n"),
        ({"persist_n": 0}, "persist_n"),
        ({"resolve_after_normal": 0}, "resolve_after_normal"),
        ({"persist_minutes": -1.0}, "persist_minutes"),
        ({"escalate_after_minutes": 0.0}, "escalate_after_minutes"),
        ({"snooze_minutes": float("nan")}, "snooze_minutes"),
    ],
)
def test_config_validation_names_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=rf"^{field}"):
        PolicyConfig(**kwargs)  # type: ignore[arg-type]


_STEP = st.one_of(
    st.tuples(
        st.just("signal"),
        st.sampled_from([A, A, B, N, N]),
        st.sampled_from([Severity.LOW, Severity.MEDIUM, Severity.HIGH]),
        st.sampled_from(
            [(AlertKind.HARD_LIMIT, "spo2"), (AlertKind.NEWS2, None), (AlertKind.DATA_GAP, "hr")]
        ),
        st.booleans(),
    ),
    st.tuples(st.just("tick")),
    st.tuples(st.just("ack"), st.sampled_from([AckAction.ACKNOWLEDGE, AckAction.SNOOZE])),
)


@settings(max_examples=150, deadline=None)
@given(steps=st.lists(_STEP, max_size=60), gap=st.floats(1, 40))
def test_policy_invariants_hold_for_any_signal_sequence(steps: list[tuple[Any, ...]], gap: float) -> None:
    policy, state = AlertPolicy(PolicyConfig(persist_minutes=10)), PolicyState()
    open_ids: dict[str, AlertEvent] = {}
    for i, step in enumerate(steps):
        minute = i * gap
        clone = PolicyState.from_dict(orjson.loads(orjson.dumps(state.to_dict())))
        if step[0] == "signal":
            _, level, severity, (kind, metric), late = step
            s = sig(minute, level, severity, kind=kind, metric=metric, late=late)
            events, replay = policy.observe(state, PID, s), policy.observe(clone, PID, s)
        elif step[0] == "tick":
            events, replay = policy.tick(state, PID, at(minute)), policy.tick(clone, PID, at(minute))
        else:
            target = next(iter(open_ids), "al-unknown")
            ack = _ack(target, minute, step[1])
            events, replay = policy.acknowledge(state, ack), policy.acknowledge(clone, ack)
        assert events == replay and clone == state  # the serialised state behaves the same
        for e in events:
            assert PID not in e.message and e.message
            if e.late:
                assert e.severity <= Severity.LOW
            if e.status is AlertStatus.RAISED and e.alert_id not in open_ids:
                assert (e.kind, e.metric) not in {(o.kind, o.metric) for o in open_ids.values()}  # dedup
                open_ids[e.alert_id] = e
            else:
                assert e.alert_id in open_ids  # every other transition is of an open alert
            if e.status is AlertStatus.RESOLVED:
                del open_ids[e.alert_id]
        assert set(state.open_alerts().values()) == set(open_ids)
