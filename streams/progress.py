"""Is the worker moving on? Per topic partition: what the agents took last and when, and records the
consumer fetched but never delivered.

A worker is *stalled* on a partition when records have been waiting there (the partition's end
offset past the next offset to take: the one after the last taken, or where reading began — the
group's committed offset, else the first kept — if none was taken since the assignment) for
``stall_after_s`` seconds, seen by every check in between, and nothing was taken from it meanwhile
while the flow of events was on. A partition whose end offset is still unknown that long (no fetch
answered) counts too. Rebalances and table recovery stop the clocks (:meth:`Progress.paused`).

>>> p = Progress(stall_after_s=60)
>>> p.assign([("readings", 0), ("readings", 1)], now=0.0)
>>> ends, starts = {("readings", 0): 42, ("readings", 1): 7}, {("readings", 1): 3}
>>> p.check(ends, starts, now=10.0)  # both have records waiting: their clocks start
[]
>>> p.took(("readings", 0), 41, now=50.0)  # partition 0 caught up
>>> [(s.tp, s.behind) for s in p.check(ends, starts, now=70.0)]
[(('readings', 1), 4)]

faust-streaming's consumer drops records it fetched for a partition that a rebalance had paused
(or after the rebalance generation changed) and counts on seeking back to the committed offset
afterwards; where that seek does not happen (aiokafka skipped partitions with no committed offset:
fixed in :mod:`streams.transport`) the consumer's position stays past records never delivered. The
agents find such a hole when a later record of the partition arrives (:mod:`streams.holes`); when
none arrives (the end of the stream, a quiet partition) :class:`Undelivered` finds it: the position
stays past the next offset to deliver, unchanged at two checks in a row.

>>> u = Undelivered()
>>> u.check({("raw", 2): 3670}, {("raw", 2): 0})  # first sight: could be records on their way
{}
>>> u.check({("raw", 2): 3670}, {("raw", 2): 0})  # still so: fetch them again from offset 0
{('raw', 2): 0}
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

TP = TypeVar("TP", bound=Hashable)


@dataclass(frozen=True, slots=True)
class Stall(Generic[TP]):
    """A partition with records waiting and nothing taken for ``idle_s`` seconds."""

    tp: TP
    idle_s: float
    next_offset: int | None  # the next offset to take (None: not known)
    end_offset: int | None  # the partition's end offset (None: no fetch answered yet)

    @property
    def behind(self) -> int | None:
        """Records waiting (None if an offset is not known)."""
        if self.next_offset is None or self.end_offset is None:
            return None
        return self.end_offset - self.next_offset


class Progress(Generic[TP]):
    """When each assigned partition last moved on; see the module docstring."""

    def __init__(self, stall_after_s: float) -> None:
        self.stall_after_s = stall_after_s
        self._taken: dict[TP, int] = {}  # tp -> last offset taken since the assignment
        self._since: dict[TP, float] = {}  # tp -> when it last moved on (or was assigned)
        self._waiting: dict[TP, float] = {}  # tp -> since when checks saw records waiting

    def assign(self, tps: Iterable[TP], now: float) -> None:
        """The partitions to watch from now on (a new assignment: every clock starts again)."""
        self._taken = {}
        self._waiting = {}
        self._since = dict.fromkeys(tps, now)

    def paused(self, now: float) -> None:
        """The flow of events is off (rebalance, recovery): nothing can be taken, no clock runs."""
        for tp in self._since:
            self._since[tp] = now

    def took(self, tp: TP, offset: int, now: float) -> None:
        """An agent took the record at ``offset`` of ``tp``."""
        if tp in self._since and offset > self._taken.get(tp, -1):
            self._taken[tp] = offset
            self._since[tp] = now

    def check(
        self, end_offsets: Mapping[TP, int | None], start_offsets: Mapping[TP, int | None], now: float
    ) -> list[Stall[TP]]:
        """Look at the watched partitions now; returns those stalled (``end_offsets``: each partition's
        end offset as the consumer knows it; ``start_offsets``: where reading began, the group's
        committed offset or the first kept). Call it regularly: records count as waiting from the
        first check that saw them."""
        out = []
        for tp, since in self._since.items():
            taken = self._taken.get(tp)
            nxt = taken + 1 if taken is not None else start_offsets.get(tp)
            end = end_offsets.get(tp)
            if not (end is None or (nxt is not None and end > nxt)):
                self._waiting.pop(tp, None)
                continue
            idle = now - max(since, self._waiting.setdefault(tp, now))
            if idle >= self.stall_after_s:
                out.append(Stall(tp, idle, nxt, end))
        return out


class Undelivered(Generic[TP]):
    """Partitions whose fetched records never reached the agents; see the module docstring."""

    def __init__(self) -> None:
        self._seen: dict[TP, tuple[int, int]] = {}

    def reset(self) -> None:
        """Forget what was seen (a rebalance, or a pause: positions and deliveries start again)."""
        self._seen = {}

    def check(
        self, positions: Mapping[TP, int | None], next_delivery: Mapping[TP, int | None]
    ) -> dict[TP, int]:
        """``tp -> offset to fetch again from`` for each partition whose consumer ``positions`` (the
        next offset to fetch) were past ``next_delivery`` (the next offset to deliver) at the last
        check too, with neither changed."""
        out: dict[TP, int] = {}
        seen: dict[TP, tuple[int, int]] = {}
        for tp, position in positions.items():
            nxt = next_delivery.get(tp)
            if position is None or nxt is None or position <= nxt:
                continue
            if self._seen.get(tp) == (position, nxt):
                out[tp] = nxt
            else:
                seen[tp] = (position, nxt)
        self._seen = seen
        return out
