"""A River-style check suite run over every baseline estimator.

River's own generic checks (clone, repr, params, pickling) plus Vigil's needs:
exact state round trip, bounded state, scores in [0, 1] and determinism.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable, Iterator

import orjson
import pytest
from river.checks import common

from detectors.baseline import RobustGaussianBaseline, TimeOfDayBaseline
from detectors.baseline.robust_gaussian import RobustGaussianBaseline as _Base

ESTIMATORS: list[type[_Base]] = [RobustGaussianBaseline, TimeOfDayBaseline]
RIVER_CHECKS: list[Callable[[_Base], None]] = [
    common.check_repr,
    common.check_str,
    common.check_clone_same_class,
    common.check_clone_is_idempotent,
    common.check_init_has_default_params_for_tests,
    common.check_init_default_params_are_not_mutable,
    common.check_doc,
    common.check_clone_changes_memory_addresses,
    common.check_pickling_supports_roundtrip,
    common.check_repr_roundtrips_clone,
    common.check_get_params_matches_signature,
]


def _instances() -> Iterator[_Base]:
    for cls in ESTIMATORS:
        for params in cls._unit_test_params():
            yield cls(**params)


def _stream(seed: int, n: int = 500) -> list[dict[str, float]]:
    rng = random.Random(seed)
    xs = []
    for i in range(n):
        value = 70 + 8 * (i % 24 < 6) + rng.gauss(0, 3)
        if rng.random() < 0.02:
            value = rng.choice([0.0, 250.0])  # artefacts
        xs.append({"value": value, "hour": i % 24})
    return xs


@pytest.mark.parametrize("model", list(_instances()), ids=repr)
@pytest.mark.parametrize("check", RIVER_CHECKS, ids=lambda c: c.__name__)
def test_river_generic_checks(model: _Base, check: Callable[[_Base], None]) -> None:
    check(copy.deepcopy(model))


@pytest.mark.parametrize("model", list(_instances()), ids=repr)
def test_state_round_trip_gives_identical_scores(model: _Base) -> None:
    xs = _stream(1)
    for x in xs[:250]:
        model.learn_one(x)
    rebuilt = model.clone()
    rebuilt.load_state(orjson.loads(orjson.dumps(model.to_state())))
    for x in xs[250:]:
        assert rebuilt.score_one(x) == model.score_one(x)
        assert rebuilt.expected_range(x) == model.expected_range(x)
        model.learn_one(x)
        rebuilt.learn_one(x)


@pytest.mark.parametrize("model", list(_instances()), ids=repr)
def test_state_is_bounded(model: _Base) -> None:
    sizes = []
    for i, x in enumerate(_stream(2, 5000)):
        model.learn_one(x)
        if i in (10, 4999):
            sizes.append(len(orjson.dumps(model.to_state())))
    assert sizes[1] <= sizes[0] + 64, "state must not grow with the stream"
    assert sizes[1] <= 512


@pytest.mark.parametrize("model", list(_instances()), ids=repr)
def test_scores_are_in_unit_interval(model: _Base) -> None:
    assert model.score_one({"value": 1e6, "hour": 0}) == 0.0, "nothing learned yet: no evidence of anomaly"
    assert model.expected_range({"hour": 0}) is None
    for x in _stream(3):
        s = model.score_one(x)
        assert 0.0 <= s <= 1.0
        model.learn_one(x)
    assert model.score_one({"value": 1e6, "hour": 0}) == pytest.approx(1.0)


@pytest.mark.parametrize("model", list(_instances()), ids=repr)
def test_deterministic(model: _Base) -> None:
    a, b = model.clone(), model.clone()
    out = []
    for m in (a, b):
        scores = []
        for x in _stream(4):
            scores.append(m.score_one(x))
            m.learn_one(x)
        out.append(scores)
    assert out[0] == out[1]
