"""Event-time order per patient with bounded memory: a reorder buffer with a lateness window.

Recorded files are usually grouped by patient and only roughly ordered in time
within a patient. :class:`ReorderBuffer` keeps one small heap per key (patient)
and releases an item once the key's newest time is more than ``lateness`` ahead
of it, so each patient's items come out in event-time order. Memory stays
bounded: when more than ``max_buffered`` items are held, the patient that was
seen least recently is flushed whole (in a grouped file that patient is done).
An item older than what its patient already released is still released (never
dropped); the monitor marks it late.

>>> from datetime import datetime, timedelta
>>> t = lambda h: datetime(2024, 1, 1, h)
>>> buf = ReorderBuffer(lateness=timedelta(hours=1), key=lambda x: x[0], time=lambda x: x[1])
>>> out = [x for item in [("a", t(2)), ("a", t(1)), ("a", t(5)), ("b", t(1))] for x in buf.push(item)]
>>> out += list(buf.drain())
>>> [(k, v.hour) for k, v in out]
[('a', 1), ('a', 2), ('a', 5), ('b', 1)]
"""

from __future__ import annotations

import heapq
import itertools
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Iterator
from datetime import datetime, timedelta
from typing import Generic, TypeVar

T = TypeVar("T")

_NOTHING: tuple[()] = ()


class _Lane(Generic[T]):
    """One key's heap and the newest time seen for it."""

    __slots__ = ("heap", "newest")

    def __init__(self, newest: datetime) -> None:
        self.heap: list[tuple[datetime, int, T]] = []
        self.newest = newest


class ReorderBuffer(Generic[T]):
    """Reorders items by event time per key, holding at most ``max_buffered`` items.

    Parameters
    ----------
    lateness
        How far behind its key's newest time an item may arrive and still be put in order.
    key, time
        Functions giving an item's key (e.g. patient id) and event time.
    max_buffered
        Upper bound on held items; beyond it the least recently seen key is flushed.
    """

    def __init__(
        self,
        *,
        lateness: timedelta,
        key: Callable[[T], Hashable],
        time: Callable[[T], datetime],
        max_buffered: int = 100_000,
    ) -> None:
        if lateness < timedelta(0):
            raise ValueError("lateness: must not be negative")
        if max_buffered < 1:
            raise ValueError("max_buffered: must be at least 1")
        self._lateness = lateness
        self._key = key
        self._time = time
        self._max = max_buffered
        self._lanes: OrderedDict[Hashable, _Lane[T]] = OrderedDict()
        self._held = 0
        self._seq = itertools.count()

    def __len__(self) -> int:
        return self._held

    def push(self, item: T) -> Iterable[T]:
        """Add one item; return the items (of any key) now ready, in event-time order per key."""
        k, t = self._key(item), self._time(item)
        lane = self._lanes.get(k)
        if lane is None:
            lane = self._lanes[k] = _Lane(t)
        else:
            self._lanes.move_to_end(k)
            if t > lane.newest:
                lane.newest = t
        heapq.heappush(lane.heap, (t, next(self._seq), item))
        self._held += 1
        horizon = lane.newest - self._lateness
        if lane.heap[0][0] > horizon and self._held <= self._max:
            return _NOTHING
        ready = self._release(lane, horizon)
        if self._held > self._max:
            ready.extend(self._evict_oldest())
        return ready

    def drain(self) -> Iterator[T]:
        """Release everything still held, key by key (least recently seen first)."""
        while self._lanes:
            yield from self._evict_oldest()

    def _release(self, lane: _Lane[T], horizon: datetime) -> list[T]:
        heap, ready = lane.heap, []
        while heap and heap[0][0] <= horizon:
            ready.append(heapq.heappop(heap)[2])
        self._held -= len(ready)
        return ready

    def _evict_oldest(self) -> list[T]:
        _, lane = self._lanes.popitem(last=False)
        ready = [entry[2] for entry in sorted(lane.heap)]
        self._held -= len(ready)
        return ready
