"""The hot-path shortcuts give exactly what the general API gives (so alert decisions are unchanged).

- ``News2Tracker.verdict`` (memoised by sub-scores) == ``score`` + ``to_signal``;
- ``HardLimit.level`` == the level of ``HardLimit.evaluate``;
- ``assess_value``/``learn_value`` == ``assess``/``learn_one`` bit for bit;
- ``policy.ignored`` is True only for signals that ``AlertPolicy.observe`` drops without a trace.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.baseline import RobustGaussianBaseline, TimeOfDayBaseline
from detectors.events import AlertKind, Severity
from detectors.limits import HARD_LIMITS, SPO2_LIMITS
from detectors.news2 import News2Tracker, score, to_signal
from detectors.policy import AlertPolicy, Level, PolicyState, Signal, ignored

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)

_PARAMS = {
    "respiration_rate": st.floats(0, 60),
    "spo2": st.floats(60, 100),
    "on_oxygen": st.sampled_from([0.0, 1.0]),
    "systolic_bp": st.floats(50, 250),
    "pulse": st.floats(20, 200),
    "consciousness": st.sampled_from([0.0, 1.0, 2.0, 3.0, 4.0]),
    "temperature": st.floats(32, 42),
}


@settings(max_examples=300)
@given(
    values=st.fixed_dictionaries({}, optional=_PARAMS),
    scale=st.sampled_from([1, 2]),
    again=st.booleans(),
)
def test_news2_verdict_is_score_and_to_signal(values: dict[str, float], scale: int, again: bool) -> None:
    tracker = News2Tracker()
    for i, (param, value) in enumerate(values.items()):
        tracker.observe(param, value, T0.timestamp() + i)
    now = T0 + timedelta(minutes=1)
    for _ in range(2 if again else 1):  # the second call is served from the memo
        verdict = tracker.verdict(now.timestamp(), 3600.0, scale)
        if not values:
            assert verdict is None
            continue
        assert verdict is not None
        expected = score(spo2_scale=scale, **values)  # type: ignore[arg-type]
        assert verdict.score == expected
        assert list(verdict.score.subscores) == list(expected.subscores)  # chart order kept
        assert verdict.signal(now) == to_signal(expected, now)
        assert tracker.current(now, timedelta(hours=1), scale) == expected


@given(value=st.floats(-10, 300, allow_nan=False))
def test_hard_limit_level_is_that_of_evaluate(value: float) -> None:
    for limit in [*HARD_LIMITS.values(), *SPO2_LIMITS.values()]:
        assert limit.level(value) is limit.evaluate(value)[0]
        for edge in (limit.low, limit.high):
            if edge is not None:  # exactly on the thresholds and margins too
                for v in (edge.at, edge.margin):
                    assert limit.level(v) is limit.evaluate(v)[0]


@given(
    values=st.lists(st.tuples(st.floats(30, 200), st.integers(0, 23)), min_size=1, max_size=80),
    circadian=st.booleans(),
)
def test_baseline_fast_path_is_exactly_the_dict_api(values: list[tuple[float, int]], circadian: bool) -> None:
    cls = TimeOfDayBaseline if circadian else RobustGaussianBaseline
    fast, general = cls(min_sd=2.0), cls(min_sd=2.0)
    for value, hour in values:
        x = {"value": value, "hour": hour}
        assert fast.assess_value(value, hour) == general.assess(x)
        fast.learn_value(value, hour)
        general.learn_one(x)
        assert fast.to_state() == general.to_state()


@given(
    kind=st.sampled_from(list(AlertKind)),
    level=st.sampled_from(list(Level)),
    metric=st.sampled_from([None, "heart_rate", "spo2"]),
)
def test_ignored_signals_change_nothing(kind: AlertKind, level: Level, metric: str | None) -> None:
    state, policy = PolicyState(), AlertPolicy()
    signal = Signal(kind, metric, T0, level, Severity.HIGH, "why", value=1.0)
    if ignored(state, kind, metric, level):
        assert policy.observe(state, "p1", signal) == []
        assert state.to_dict() == {}
    else:
        assert level is Level.ABNORMAL
        policy.observe(state, "p1", signal)
        assert not ignored(state, kind, metric, Level.NORMAL)  # a track now exists: NORMAL counts
