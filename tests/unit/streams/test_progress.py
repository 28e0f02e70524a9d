"""When a worker counts as stalled, and when fetched records count as dropped (streams.progress)."""

from __future__ import annotations

from streams.progress import Progress, Undelivered

RAW0, RAW1 = ("raw", 0), ("raw", 1)


def test_records_waiting_for_the_limit_with_nothing_taken_are_a_stall() -> None:
    p: Progress[tuple[str, int]] = Progress(stall_after_s=60)
    p.assign([RAW0], now=0.0)
    assert p.check({RAW0: 10}, {RAW0: 4}, now=100.0) == [], "waiting counts from the first check that saw it"
    assert p.check({RAW0: 10}, {RAW0: 4}, now=159.0) == []
    [stall] = p.check({RAW0: 10}, {RAW0: 4}, now=160.0)
    assert (stall.tp, stall.next_offset, stall.end_offset) == (RAW0, 4, 10)
    assert (stall.behind, stall.idle_s) == (6, 60.0)


def test_taking_a_record_restarts_the_clock_and_catching_up_clears_the_wait() -> None:
    p: Progress[tuple[str, int]] = Progress(stall_after_s=60)
    p.assign([RAW0], now=0.0)
    p.check({RAW0: 10}, {RAW0: 4}, now=0.0)
    p.took(RAW0, 5, now=50.0)
    assert p.check({RAW0: 10}, {RAW0: 4}, now=100.0) == [], "moving on, if slowly, is not a stall"
    assert p.check({RAW0: 10}, {RAW0: 4}, now=110.0)[0].next_offset == 6
    p.took(RAW0, 9, now=111.0)
    assert p.check({RAW0: 10}, {RAW0: 4}, now=500.0) == [], "caught up: a quiet partition is not stalled"
    assert p.check({RAW0: 11}, {RAW0: 4}, now=501.0) == [], "a new record starts a new wait"
    assert p.check({RAW0: 11}, {RAW0: 4}, now=561.0)[0].behind == 1


def test_a_pause_or_a_new_assignment_restarts_every_clock() -> None:
    p: Progress[tuple[str, int]] = Progress(stall_after_s=60)
    p.assign([RAW0, RAW1], now=0.0)
    p.check({RAW0: 10, RAW1: 10}, {RAW0: 0, RAW1: 0}, now=0.0)
    p.paused(now=50.0)
    assert p.check({RAW0: 10, RAW1: 10}, {RAW0: 0, RAW1: 0}, now=100.0) == []
    p.assign([RAW1], now=105.0)
    assert p.check({RAW0: 10, RAW1: 10}, {RAW0: 0, RAW1: 0}, now=170.0) == [], "re-assigned at 105"
    assert [s.tp for s in p.check({RAW0: 10, RAW1: 10}, {RAW0: 0, RAW1: 0}, now=230.0)] == [RAW1]


def test_an_end_offset_never_known_counts_and_a_partition_not_assigned_does_not() -> None:
    p: Progress[tuple[str, int]] = Progress(stall_after_s=60)
    p.assign([RAW0], now=0.0)
    p.took(RAW1, 3, now=1.0)  # not watched: ignored
    p.check({}, {}, now=0.0)
    [stall] = p.check({}, {}, now=60.0)
    assert (stall.tp, stall.end_offset, stall.behind) == (RAW0, None, None)


def test_fetched_records_count_as_dropped_only_when_nothing_changed_between_two_looks() -> None:
    u: Undelivered[tuple[str, int]] = Undelivered()
    assert u.check({RAW0: 3670, RAW1: 50}, {RAW0: 0, RAW1: 50}) == {}, "position at the next delivery: fine"
    assert u.check({RAW0: 3670, RAW1: 60}, {RAW0: 0, RAW1: 55}) == {RAW0: 0}, "RAW1 moved on: on their way"
    assert u.check({RAW0: 3670, RAW1: 60}, {RAW0: 0, RAW1: 55}) == {RAW1: 55}, "RAW0 was acted on: forgotten"
    assert u.check({RAW0: None}, {RAW0: 0}) == {}
    u.check({RAW0: 9}, {RAW0: 2})
    u.reset()
    assert u.check({RAW0: 9}, {RAW0: 2}) == {}, "a reset (rebalance) starts over"
