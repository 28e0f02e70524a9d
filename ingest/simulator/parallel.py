"""An ordered, bounded parallel map over processes (results in input order, at most a few in flight).

Used to simulate patients and serialise chunks of readings on several cores; the
output is the same bytes whatever the number of workers.

>>> list(ordered_map(abs, [-1, 2, -3], workers=1))
[1, 2, 3]
"""

from __future__ import annotations

import multiprocessing
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TypeVar

A = TypeVar("A")
R = TypeVar("R")


def ordered_map(fn: Callable[[A], R], items: Iterable[A], *, workers: int, in_flight: int = 2) -> Iterator[R]:
    """``map(fn, items)`` on ``workers`` processes, keeping ``in_flight`` tasks per worker queued.

    ``fn`` must be a module-level function; ``workers <= 1`` runs in this process.
    """
    if workers <= 1:
        yield from map(fn, items)
        return
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method)) as pool:
        pending: deque[Future[R]] = deque()
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= workers * in_flight:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
