"""NEWS2 against every boundary of the RCP 2017 chart, bands, partial results and the tracker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from detectors.events import AlertKind, Severity
from detectors.news2 import PARAMETERS, Band, News2Tracker, band_for, score, spo2_points, to_signal
from detectors.policy import Level
from ingest.reading import make_reading

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)

# (parameter, value, points): both sides of every band edge of the chart, plus the real-value rule.
CHART = [
    # respiration rate: <=8 3 | 9-11 1 | 12-20 0 | 21-24 2 | >=25 3
    ("respiration_rate", 0, 3), ("respiration_rate", 8, 3), ("respiration_rate", 8.5, 1),
    ("respiration_rate", 9, 1), ("respiration_rate", 11, 1), ("respiration_rate", 12, 0),
    ("respiration_rate", 20, 0), ("respiration_rate", 20.5, 2), ("respiration_rate", 21, 2),
    ("respiration_rate", 24, 2), ("respiration_rate", 25, 3), ("respiration_rate", 60, 3),
    # systolic BP: <=90 3 | 91-100 2 | 101-110 1 | 111-219 0 | >=220 3
    ("systolic_bp", 60, 3), ("systolic_bp", 90, 3), ("systolic_bp", 90.4, 2), ("systolic_bp", 91, 2),
    ("systolic_bp", 100, 2), ("systolic_bp", 101, 1), ("systolic_bp", 110, 1), ("systolic_bp", 111, 0),
    ("systolic_bp", 219, 0), ("systolic_bp", 219.5, 3), ("systolic_bp", 220, 3),
    # pulse: <=40 3 | 41-50 1 | 51-90 0 | 91-110 1 | 111-130 2 | >=131 3
    ("pulse", 30, 3), ("pulse", 40, 3), ("pulse", 41, 1), ("pulse", 50, 1), ("pulse", 51, 0),
    ("pulse", 90, 0), ("pulse", 91, 1), ("pulse", 110, 1), ("pulse", 111, 2), ("pulse", 130, 2),
    ("pulse", 130.5, 3), ("pulse", 131, 3),
    # temperature: <=35.0 3 | 35.1-36.0 1 | 36.1-38.0 0 | 38.1-39.0 1 | >=39.1 2
    ("temperature", 34.0, 3), ("temperature", 35.0, 3), ("temperature", 35.05, 1), ("temperature", 35.1, 1),
    ("temperature", 36.0, 1), ("temperature", 36.1, 0), ("temperature", 38.0, 0), ("temperature", 38.05, 1),
    ("temperature", 38.1, 1), ("temperature", 39.0, 1), ("temperature", 39.1, 2), ("temperature", 41.0, 2),
    # consciousness: Alert 0 | new Confusion, Voice, Pain, Unresponsive 3 (letters or ACVPU codes 0..4)
    ("consciousness", "A", 0), ("consciousness", "a", 0), ("consciousness", "C", 3),
    ("consciousness", "V", 3), ("consciousness", "P", 3), ("consciousness", "U", 3),
    ("consciousness", 0, 0), ("consciousness", 1, 3), ("consciousness", 4, 3), ("consciousness", 2.0, 3),
    # air or oxygen: oxygen 2 | air 0
    ("on_oxygen", True, 2), ("on_oxygen", False, 0), ("on_oxygen", 1.0, 2), ("on_oxygen", 0.0, 0),
]  # fmt: skip


@pytest.mark.parametrize(("param", "value", "points"), CHART)
def test_every_chart_boundary(param: str, value: Any, points: int) -> None:
    result = score(**{param: value})
    assert result.subscores == {param: points}
    assert result.total == points


# SpO2 scale 1: <=91 3 | 92-93 2 | 94-95 1 | >=96 0
SCALE1 = [(80, 3), (91, 3), (91.5, 2), (92, 2), (93, 2), (94, 1), (95, 1), (95.5, 0), (96, 0), (100, 0)]


@pytest.mark.parametrize(("spo2", "points"), SCALE1)
@pytest.mark.parametrize("on_oxygen", [None, False, True])
def test_spo2_scale1_ignores_oxygen_for_the_spo2_subscore(
    spo2: float, points: int, on_oxygen: bool | None
) -> None:
    result = score(spo2=spo2, on_oxygen=on_oxygen)
    assert result.subscores["spo2"] == points
    assert result.total == points + (2 if on_oxygen else 0)


# SpO2 scale 2: <=83 3 | 84-85 2 | 86-87 1 | 88-92 0 | >=93 on air 0
#               93-94 on O2 1 | 95-96 on O2 2 | >=97 on O2 3
SCALE2 = [
    (80, None, 3), (83, False, 3), (83.5, True, 2), (84, False, 2), (85, True, 2), (86, False, 1),
    (87, True, 1), (88, False, 0), (88, True, 0), (92, True, 0), (92, False, 0),
    (93, False, 0), (97, False, 0), (100, False, 0), (93, None, 0),
    (92.5, True, 1), (93, True, 1), (94, True, 1), (95, True, 2), (96, True, 2), (96.5, True, 3),
    (97, True, 3), (100, True, 3),
]  # fmt: skip


@pytest.mark.parametrize(("spo2", "on_oxygen", "points"), SCALE2)
def test_spo2_scale2_with_and_without_oxygen(spo2: float, on_oxygen: bool | None, points: int) -> None:
    assert spo2_points(spo2, scale=2, on_oxygen=on_oxygen) == points
    result = score(spo2=spo2, on_oxygen=on_oxygen, spo2_scale=2)
    assert result.subscores["spo2"] == points
    assert result.total == points + (2 if on_oxygen else 0)
    assert ("on_oxygen" in result.missing) is (on_oxygen is None)


@pytest.mark.parametrize(("value", "points"), [(38.0 + 4e-15, 0), (38.0 + 5e-7, 0), (38.0 + 1e-4, 1)])
def test_float_noise_stays_in_the_named_band(value: float, points: int) -> None:
    assert score(temperature=value).subscores["temperature"] == points


@pytest.mark.parametrize(
    ("kwargs", "total", "band"),
    [
        ({"respiration_rate": 16, "spo2": 97, "on_oxygen": False, "systolic_bp": 125, "pulse": 70,
          "consciousness": "A", "temperature": 37.0}, 0, Band.LOW),
        ({"respiration_rate": 22, "pulse": 95}, 3, Band.LOW),
        ({"pulse": 131}, 3, Band.LOW_MEDIUM),
        ({"pulse": 131, "temperature": 38.5}, 4, Band.LOW_MEDIUM),
        ({"respiration_rate": 22, "pulse": 115, "temperature": 38.5}, 5, Band.MEDIUM),
        ({"respiration_rate": 22, "pulse": 115, "temperature": 39.5}, 6, Band.MEDIUM),
        ({"respiration_rate": 25, "temperature": 39.5}, 5, Band.MEDIUM),
        ({"respiration_rate": 25, "pulse": 115, "temperature": 39.5}, 7, Band.HIGH),
        ({"respiration_rate": 30, "spo2": 85, "on_oxygen": True, "systolic_bp": 80, "pulse": 140,
          "consciousness": "U", "temperature": 34}, 20, Band.HIGH),
    ],
)  # fmt: skip
def test_aggregate_and_band(kwargs: dict[str, object], total: int, band: Band) -> None:
    result = score(**kwargs)  # type: ignore[arg-type]
    assert (result.total, result.band) == (total, band)


def test_partial_result_lists_missing_parameters_in_chart_order() -> None:
    result = score(pulse=72, temperature=37.2)
    assert result.partial
    assert result.missing == ("respiration_rate", "spo2", "on_oxygen", "systolic_bp", "consciousness")
    assert set(result.subscores) == {"pulse", "temperature"}
    full = score(respiration_rate=16, spo2=97, on_oxygen=False, systolic_bp=125, pulse=70, consciousness="A",
                 temperature=37.0)  # fmt: skip
    assert not full.partial and full.missing == ()
    empty = score()
    assert empty.missing == PARAMETERS and empty.total == 0 and empty.band is Band.LOW


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"pulse": float("nan")}, "pulse"),
        ({"temperature": float("inf")}, "temperature"),
        ({"consciousness": "X"}, "consciousness"),
        ({"consciousness": 7}, "consciousness"),
        ({"consciousness": True}, "consciousness"),
        ({"spo2": 95, "spo2_scale": 3}, "spo2_scale"),
        ({"spo2_scale": 0}, "spo2_scale"),
    ],
)
def test_bad_input_names_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=rf"^{field}: "):
        score(**kwargs)  # type: ignore[arg-type]


_PARAM_VALUES = {
    "respiration_rate": st.floats(0, 80),
    "spo2": st.floats(50, 100),
    "on_oxygen": st.booleans(),
    "systolic_bp": st.floats(40, 300),
    "pulse": st.floats(20, 250),
    "consciousness": st.sampled_from(["A", "C", "V", "P", "U", 0, 1, 2, 3, 4]),
    "temperature": st.floats(30, 43),
}


@given(
    params=st.fixed_dictionaries({}, optional=_PARAM_VALUES),  # type: ignore[arg-type]
    scale=st.sampled_from([1, 2]),
)
def test_total_is_sum_of_subscores_and_band_rules_hold(params: dict[str, object], scale: int) -> None:
    result = score(spo2_scale=scale, **params)  # type: ignore[arg-type]
    assert result.total == sum(result.subscores.values())
    assert set(result.subscores) == set(params)
    assert set(result.missing) == set(PARAMETERS) - set(params)
    assert all(0 <= v <= 3 for v in result.subscores.values())
    if result.total >= 7:
        assert result.band is Band.HIGH
    elif result.total >= 5:
        assert result.band is Band.MEDIUM
    elif 3 in result.subscores.values():
        assert result.band is Band.LOW_MEDIUM
    else:
        assert result.band is Band.LOW
    assert result.band is band_for(result.total, max(result.subscores.values(), default=0))


def _reading(metric: str, value: float | str, minutes: float, **kw: object):  # type: ignore[no-untyped-def]
    return make_reading(patient_id="p1", device_id="d1", metric=metric, value=value,
                        time=T0 + timedelta(minutes=minutes), **kw)  # type: ignore[arg-type]  # fmt: skip


def test_tracker_scores_latest_fresh_values_and_ignores_older_and_flagged() -> None:
    tr = News2Tracker()
    tr.update(_reading("heart_rate", 135, 0))
    tr.update(_reading("heart_rate", 80, 10))
    tr.update(_reading("heart_rate", 140, 5))  # older than the held value: ignored
    tr.update(_reading("heart_rate", 40, 12, quality=["motion_artefact"]))  # flagged: ignored
    tr.update(_reading("spo2", 90, 11))
    tr.update(_reading("consciousness", "V", 11))
    tr.update(_reading("steps", 100, 11))  # not a NEWS2 parameter
    now = T0 + timedelta(minutes=15)
    result = tr.current(now, timedelta(hours=1), spo2_scale=1)
    assert result is not None
    assert result.subscores == {"pulse": 0, "spo2": 3, "consciousness": 3}
    assert tr.current(now, timedelta(hours=1), spo2_scale=2).subscores["spo2"] == 0  # type: ignore[union-attr]
    # freshness: only the parameters within the window count
    later = tr.current(T0 + timedelta(minutes=70), timedelta(minutes=59.5))
    assert later is not None and set(later.subscores) == {"spo2", "consciousness"}
    assert tr.current(T0 + timedelta(hours=3), timedelta(hours=1)) is None


def test_tracker_accepts_late_flag_and_round_trips() -> None:
    tr = News2Tracker()
    tr.update(_reading("respiratory_rate", 26, 0, quality=["late"]))
    tr.update(_reading("supplemental_oxygen", 1, 0))
    clone = News2Tracker.from_dict(tr.to_dict())
    assert clone.latest == tr.latest
    result = clone.current(T0, timedelta(hours=4))
    assert result is not None and result.subscores == {"respiration_rate": 3, "on_oxygen": 2}


@pytest.mark.parametrize(
    ("kwargs", "level", "severity"),
    [
        ({"pulse": 70}, Level.NORMAL, Severity.INFO),
        ({"respiration_rate": 22, "pulse": 95}, Level.BORDERLINE, Severity.INFO),
        ({"pulse": 131}, Level.ABNORMAL, Severity.MEDIUM),
        ({"respiration_rate": 25, "temperature": 39.5}, Level.ABNORMAL, Severity.MEDIUM),
        ({"respiration_rate": 25, "pulse": 115, "temperature": 39.5}, Level.ABNORMAL, Severity.HIGH),
    ],
)
def test_to_signal_maps_band_to_level_and_severity(
    kwargs: dict[str, Any], level: Level, severity: Severity
) -> None:
    sig = to_signal(score(**kwargs), T0, late=True)
    assert (sig.kind, sig.metric, sig.level, sig.severity, sig.late) == (
        AlertKind.NEWS2,
        None,
        level,
        severity,
        True,
    )
    assert sig.news2_subscores == score(**kwargs).subscores
    assert sig.message.startswith(f"NEWS2 {score(**kwargs).total} (")
    assert "partial" in sig.message
