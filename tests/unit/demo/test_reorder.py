"""The bounded per-patient reorder buffer used by replay."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from vigil.reorder import ReorderBuffer

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _buffer(lateness_min: float = 60, max_buffered: int = 1000) -> ReorderBuffer[tuple[str, datetime]]:
    return ReorderBuffer(
        lateness=timedelta(minutes=lateness_min),
        key=lambda x: x[0],
        time=lambda x: x[1],
        max_buffered=max_buffered,
    )


def _run(
    buf: ReorderBuffer[tuple[str, datetime]], items: list[tuple[str, datetime]]
) -> list[tuple[str, datetime]]:
    out = [x for item in items for x in buf.push(item)]
    return out + list(buf.drain())


def test_shuffled_within_the_window_comes_out_sorted_per_patient() -> None:
    rng = random.Random(3)
    items = [
        (p, T0 + timedelta(minutes=5 * i + rng.uniform(-20, 20))) for p in ("a", "b") for i in range(200)
    ]
    out = _run(_buffer(lateness_min=60), items)
    assert sorted(out) == sorted(items)  # nothing lost or duplicated
    for p in ("a", "b"):
        times = [t for k, t in out if k == p]
        assert times == sorted(times)


def test_grouped_by_patient_each_patient_starts_at_its_own_beginning() -> None:
    # patient b's readings start earlier than a's latest: they are not "late", each lane has its own clock
    items = [("a", T0 + timedelta(hours=h)) for h in range(48)] + [
        ("b", T0 + timedelta(hours=h)) for h in range(10)
    ]
    out = _run(_buffer(lateness_min=90), items)
    assert [t for k, t in out if k == "b"] == [T0 + timedelta(hours=h) for h in range(10)]


def test_memory_stays_bounded_by_flushing_the_least_recently_seen_patient() -> None:
    buf = _buffer(lateness_min=10_000, max_buffered=50)  # huge window: only the bound releases items
    peak = 0
    released = 0
    for p in range(20):
        for i in range(30):
            released += len(list(buf.push((f"p{p}", T0 + timedelta(minutes=i)))))
            peak = max(peak, len(buf))
    assert peak <= 50
    assert released + len(list(buf.drain())) == 600


def test_an_item_later_than_the_window_is_still_released() -> None:
    items = [("a", T0 + timedelta(hours=h)) for h in range(5)] + [("a", T0)]
    out = _run(_buffer(lateness_min=30), items)
    assert len(out) == 6
    assert out.count(("a", T0)) == 2


@pytest.mark.parametrize(("lateness", "bound", "field"), [(-1, 10, "lateness"), (1, 0, "max_buffered")])
def test_bad_configuration_names_the_field(lateness: float, bound: int, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        _buffer(lateness_min=lateness, max_buffered=bound)
