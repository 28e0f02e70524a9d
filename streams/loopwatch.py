"""A watchdog thread for the worker's event loop.

The stall watchdog (:mod:`streams.health`) is a timer on the event loop, so a loop that a blocking
call holds (a hung synchronous client call, a deadlock in a C extension) stops it too, and the
health page goes unanswered. Kubernetes' liveness probe restarts such a worker; Docker's restart
policy does not (an unhealthy container is left running). :class:`LoopWatch` closes that gap: the
loop stamps a time every ``check_every_s``, a daemon thread looks at the stamp, and once it is older
than ``after_s`` the thread logs an ERROR with where the loop's thread is (code locations only, no
local variables) and calls ``on_blocked`` (the worker's: :class:`streams.health.WorkerHealth` stops
it as it stops a stalled one, exit status 75).

>>> clock = iter([0.0, 10.0, 200.0]).__next__
>>> watch = LoopWatch(after_s=120, on_blocked=print, clock=clock)
>>> watch.beat()  # the loop turned at t=0
>>> watch.blocked_for(), watch.blocked_for()  # at t=10, t=200
(None, 200.0)
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
import traceback
from collections.abc import Callable

log = logging.getLogger(__name__)


class LoopWatch:
    """Calls ``on_blocked`` when the watched event loop has not turned for ``after_s`` seconds."""

    def __init__(
        self,
        after_s: float,
        *,
        on_blocked: Callable[[float], None],
        check_every_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.after_s = after_s
        self.on_blocked = on_blocked
        self.every = check_every_s if check_every_s is not None else max(0.05, min(5.0, after_s / 4))
        self.clock = clock
        self.last: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop_thread: int | None = None

    def beat(self) -> None:
        """The loop turned: stamp the time."""
        self.last = self.clock()

    def blocked_for(self) -> float | None:
        """Seconds since the last stamp if that is ``after_s`` or more, else None."""
        if self.last is None:
            return None
        waited = self.clock() - self.last
        return waited if waited >= self.after_s else None

    @property
    def started(self) -> bool:
        return self._thread is not None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Stamp from ``loop`` (call from its thread) and start the watching thread (once)."""
        if self.started:
            return
        self._loop_thread = threading.get_ident()

        def stamp() -> None:
            self.beat()
            if not self._stop.is_set():
                loop.call_later(self.every, stamp)

        stamp()
        self._thread = threading.Thread(target=self._watch, name="vigil-loop-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop watching (a graceful shutdown)."""
        self._stop.set()

    def _watch(self) -> None:
        while not self._stop.wait(self.every):
            waited = self.blocked_for()
            if waited is None:
                continue
            log.error(
                "event loop blocked for %.0f s (limit %.0f s); stopping so that the worker is started "
                "again. Where the loop's thread is:\n%s",
                waited,
                self.after_s,
                self._where(),
            )
            self.on_blocked(waited)
            return

    def _where(self) -> str:
        frame = sys._current_frames().get(self._loop_thread or -1)
        return "".join(traceback.format_stack(frame)) if frame is not None else "(thread gone)"
