"""Behaviour of the per-patient baselines: River-equivalent moments, robustness, time of day."""

from __future__ import annotations

import random

import pytest
from river import stats

from detectors.baseline import EWMoments, RobustGaussianBaseline, TimeOfDayBaseline, baseline_for, tail_score
from detectors.baseline.scoring import z_for_score
from ingest.metrics import Metric


def test_moments_equal_rivers_ew_mean_and_variance() -> None:
    rng = random.Random(0)
    ours, mean, var = EWMoments(), stats.EWMean(0.1), stats.EWVar(0.1)
    for _ in range(300):
        x = rng.gauss(37.0, 0.4)
        ours.update(x, 0.1)
        mean.update(x)
        var.update(x)
        assert ours.mean == pytest.approx(mean.get(), rel=1e-12)
        assert ours.var == pytest.approx(var.get(), rel=1e-6, abs=1e-9)


def test_tail_score_is_monotone_and_inverts() -> None:
    zs = [0.0, 0.5, 1.0, 2.0, 3.0, 5.0]
    scores = [tail_score(z) for z in zs]
    assert scores == sorted(scores) and scores[0] == 0.0 and scores[-1] < 1.0 + 1e-12
    assert tail_score(-2.0) == tail_score(2.0)
    assert z_for_score(tail_score(1.5)) == pytest.approx(1.5)


def test_repeated_artefacts_do_not_poison_the_baseline() -> None:
    rng = random.Random(1)
    b = RobustGaussianBaseline(min_sd=1.0)
    for _ in range(100):
        b.learn_one({"value": rng.gauss(96, 1)})
    before = b.center({})
    for _ in range(3):
        b.learn_one({"value": 0.0})
    assert abs(b.center({}) - before) < 0.5
    assert b.score_one({"value": 96.0}) < 0.8


def test_baseline_adapts_to_a_lasting_shift() -> None:
    b = RobustGaussianBaseline(min_sd=1.0)
    for _ in range(100):
        b.learn_one({"value": 70.0})
    for _ in range(300):
        b.learn_one({"value": 80.0})
    assert b.center({}) == pytest.approx(80.0, abs=0.5)


def test_time_of_day_offset_needs_data_in_its_bucket() -> None:
    b = TimeOfDayBaseline(min_sd=1.0)
    for _ in range(50):
        b.learn_one({"value": 70.0, "hour": 12})
    assert b.center({"hour": 2}) == pytest.approx(b.center({"hour": 12}), abs=1e-9)
    assert b.center({}) == pytest.approx(70.0)


def test_invalid_parameters_name_the_field() -> None:
    with pytest.raises(ValueError, match="fading_factor"):
        RobustGaussianBaseline(fading_factor=0.0)
    with pytest.raises(ValueError, match="buckets"):
        TimeOfDayBaseline(buckets=5)


def test_every_vital_has_a_baseline() -> None:
    for m in (
        Metric.HEART_RATE,
        Metric.RESPIRATORY_RATE,
        Metric.SPO2,
        Metric.SYSTOLIC_BP,
        Metric.BODY_TEMPERATURE,
    ):
        assert baseline_for(m) is not None
