"""Run a coroutine without the event loop for as long as it does not have to wait.

Faust's per-message paths (delivery to a stream's queue, taking an event from it) are coroutines
that almost never wait, yet awaiting them costs event-loop turns. :func:`start_eagerly` runs one
up to its first real wait; the caller finishes it only if it got that far.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Generator
from typing import Any


class _Resume:
    """Awaitable that finishes a coroutine which ``send(None)`` left suspended on ``waiting_on``
    (a future, or None for a bare ``yield`` such as ``asyncio.sleep(0)``)."""

    def __init__(self, coro: Any, waiting_on: Any) -> None:
        self.coro = coro
        self.waiting_on = waiting_on

    def __await__(self) -> Generator[Any, None, Any]:
        try:
            yield self.waiting_on  # the task waits on it exactly as it would have for the coroutine
        except BaseException as exc:
            cancelled_future = isinstance(self.waiting_on, asyncio.Future) and self.waiting_on.cancelled()
            if not cancelled_future:  # otherwise resuming raises CancelledError where the coroutine waits
                return (yield from _throw_into(self.coro, exc))
        return (yield from self.coro.__await__())


def _throw_into(coro: Any, exc: BaseException) -> Generator[Any, None, Any]:
    try:
        waiting_on = coro.throw(exc)
    except StopIteration as stop:
        return stop.value
    return (yield from _Resume(coro, waiting_on).__await__())


def start_eagerly(coro: Awaitable[Any], *, through_bare_yields: bool = False) -> tuple[bool, Any]:
    """Run ``coro`` (a coroutine, or an async iterator's ``__anext__()``) until it first waits:
    ``(True, result)`` if it finished, else ``(False, rest)`` where awaiting ``rest`` finishes it
    (exceptions and cancellation reach the coroutine). With ``through_bare_yields`` a bare ``yield``
    (``await asyncio.sleep(0)``: a turn offered to other tasks, not a wait) does not stop it.

    >>> async def add(a, b):
    ...     await asyncio.sleep(0)
    ...     return a + b
    >>> start_eagerly(add(1, 2), through_bare_yields=True)
    (True, 3)
    >>> done, rest = start_eagerly(add(1, 2))
    >>> done, asyncio.run(asyncio.wait_for(rest, 1))
    (False, 3)
    """
    try:
        waiting_on = coro.send(None)  # type: ignore[attr-defined]
        while waiting_on is None and through_bare_yields:
            waiting_on = coro.send(None)  # type: ignore[attr-defined]
    except StopIteration as stop:
        return True, stop.value
    return False, _Resume(coro, waiting_on)
