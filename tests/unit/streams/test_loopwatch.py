"""The event-loop watchdog thread (streams.loopwatch): a loop held by a blocking call is reported from
another thread, with where it is held, and the process exits for its supervisor."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import threading

from streams.app import create_app
from streams.health import EXIT_STALLED
from streams.loopwatch import LoopWatch
from vigil.settings import Settings


def hold_the_loop(released: threading.Event) -> None:
    """A blocking call in a coroutine: nothing else on the loop runs until ``released`` is set."""
    assert released.wait(timeout=30), "the watchdog never fired"


def test_a_loop_held_by_a_blocking_call_is_reported_with_where_it_is_held(caplog) -> None:
    fired = threading.Event()
    blocked: list[float] = []

    def on_blocked(seconds: float) -> None:
        blocked.append(seconds)
        fired.set()

    watch = LoopWatch(0.3, on_blocked=on_blocked, check_every_s=0.02)

    async def main() -> None:
        watch.start(asyncio.get_running_loop())
        hold_the_loop(fired)  # returns as soon as the thread has fired

    with caplog.at_level(logging.ERROR, logger="streams.loopwatch"):
        asyncio.run(main())
    watch.stop()
    assert len(blocked) == 1 and blocked[0] >= 0.3
    assert "event loop blocked for" in caplog.text and "in hold_the_loop" in caplog.text


def test_a_stopped_watch_does_not_fire() -> None:
    fired: list[float] = []
    watch = LoopWatch(0.05, on_blocked=fired.append, check_every_s=0.01)

    async def main() -> None:
        watch.start(asyncio.get_running_loop())
        watch.stop()

    asyncio.run(main())
    assert watch._thread is not None
    watch._thread.join(timeout=5)  # the thread ends on stop, having looked at most once more
    assert not watch._thread.is_alive() and fired == []


def test_a_held_loop_ends_the_worker_with_the_stall_status() -> None:
    code = (
        "import asyncio, logging, sys, time; logging.basicConfig(stream=sys.stderr);"
        "from streams.health import WorkerHealth\n"
        "async def main():\n"
        "    WorkerHealth(None, [], 0.2).loop_watch.start(asyncio.get_running_loop())\n"
        "    time.sleep(30)\n"
        "asyncio.run(main()); print('not reached')"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == EXIT_STALLED
    assert "event loop blocked" in done.stderr and "not reached" not in done.stdout


async def test_the_worker_watches_its_loop_from_its_first_assignment_only_with_the_stall_limit_on(
    tmp_path,
) -> None:
    """From the first assignment, so that a loop held while the tables recover is caught too (Faust's
    app tasks start only after recovery)."""
    for stall_after_s, watched in ((120.0, True), (0.0, False)):
        settings = Settings(worker={"store": "memory", "data_dir": tmp_path, "stall_after_s": stall_after_s})
        app = create_app(settings, worker_id=f"w{stall_after_s:.0f}")
        watch = app.vigil.health.loop_watch
        assert not watch.started
        await app.on_partitions_assigned.send(set())
        try:
            assert watch.started is watched and watch.after_s == stall_after_s
        finally:
            watch.stop()
