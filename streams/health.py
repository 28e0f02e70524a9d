"""The worker's health for its supervisor, and a consumer watchdog.

On the worker's web port (``worker.web_port``; Faust's web server with its table and router views
off):

* ``GET /health/ready`` — 200 once the worker has joined the consumer group, recovered its table
  and its agents take events; 503 while it starts, rebalances or recovers (Kubernetes' readiness
  probe: a rolling update moves on only when the restarted worker is working again).
* ``GET /health/live`` — 200 unless the worker is stalled; 503 with the stalled partitions, and
  no answer at all if its event loop is blocked (the liveness probe, Docker's health check).

Every :data:`CHECK_EVERY_S` the watchdog looks at the consumer. Records it fetched and never
delivered (faust-streaming drops those of a partition a rebalance paused, and does not fetch them
again) are fetched again: a partition whose position stays past the next offset to deliver is
sought back there (:class:`streams.progress.Undelivered`), with a WARNING.

A worker is *stalled* when records have waited on a partition of an agent's topic that it owns for
``worker.stall_after_s`` with nothing taken from it, while its flow of events was on and no sink
write was stuck (:mod:`streams.progress`; an InfluxDB outage is a wait, not a stall). The
watchdog then logs an ERROR naming the partitions, what the consumer knows of them and where every
task waits (topic names, offsets and code only, no patient data), and the worker exits with
status :data:`EXIT_STALLED` so that its supervisor (Kubernetes, Docker's restart policy, systemd)
starts it again: it rejoins the group and carries on from the last checkpoint (a crash loses
nothing: docs/streams.md, "No data lost"). A thread does the same when the event loop itself has
not turned for ``worker.stall_after_s`` (:mod:`streams.loopwatch`): then no timer runs and the
health pages go unanswered, which Docker's restart policy would not act on.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import faust

from streams.loopwatch import LoopWatch
from streams.progress import Progress, Stall, Undelivered

log = logging.getLogger(__name__)

CHECK_EVERY_S = 5.0
"""How often the watchdog looks (records the consumer dropped are fetched again after two looks)."""
LOOK_TIMEOUT_S = 5.0
"""Longest wait for the consumer's answer to one question of the watchdog."""
EXIT_STALLED = 75
"""Exit status of a worker the watchdog stopped (``EX_TEMPFAIL``: start it again)."""


def exit_stalled(stalls: Sequence[Stall[Any]]) -> None:
    """Stop the process at once, like a crash (a graceful stop could wait on what stalled)."""
    logging.shutdown()  # flush the ERROR and the task dump
    os._exit(EXIT_STALLED)


class WorkerHealth:
    """Readiness, liveness and the stall watchdog of one worker.

    ``topics``: the agents' topics (their partitions are watched); ``busy``: true while a sink write
    is stuck (an outage: the clocks stop and nothing is fetched again); ``on_stall``: what the
    watchdog does with the stalls it found (default :func:`exit_stalled`); ``stall_after_s`` 0 turns
    the stall check off.
    """

    def __init__(
        self,
        app: faust.App,
        topics: Iterable[str],
        stall_after_s: float,
        *,
        busy: Callable[[], bool] = lambda: False,
        on_stall: Callable[[Sequence[Stall[Any]]], None] = exit_stalled,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.topics = frozenset(topics)
        self.busy = busy
        self.on_stall = on_stall
        self.clock = clock
        self.progress: Progress[Any] = Progress(stall_after_s)
        self.undelivered: Undelivered[Any] = Undelivered()
        self.stalls: list[Stall[Any]] = []
        self.refetched = 0
        """Partitions fetched again because their records were never delivered (since the start)."""
        self.loop_watch = LoopWatch(stall_after_s, on_blocked=lambda _seconds: self.on_stall([]))
        """Stops the worker like a stall when its event loop is held (:mod:`streams.loopwatch`)."""

    @property
    def stall_after_s(self) -> float:
        return self.progress.stall_after_s

    def install(self) -> None:
        """Register the two pages and the watchdog timer on the app."""

        async def ready(web: Any, request: Any) -> Any:
            ok, body = self.ready()
            return web.json(body, status=200 if ok else 503)

        async def live(web: Any, request: Any) -> Any:
            ok, body = self.live()
            return web.json(body, status=200 if ok else 503)

        self.app.page("/health/ready", name="health-ready")(ready)
        self.app.page("/health/live", name="health-live")(live)
        every = CHECK_EVERY_S if self.stall_after_s <= 0 else min(CHECK_EVERY_S, self.stall_after_s / 4)
        self.app.timer(max(0.5, every), name="consumer-watchdog")(self.watch)
        if self.stall_after_s > 0:
            self.app.on_partitions_assigned.connect(self._watch_loop)
            self.app.on_before_shutdown.connect(self._stop_watching_loop)

    async def _watch_loop(self, *args: Any, **kwargs: Any) -> None:
        """First assignment (before the tables are recovered, which Faust's app tasks wait for): a thread
        watches from now on that the event loop keeps turning (:mod:`streams.loopwatch`)."""
        self.loop_watch.start(asyncio.get_running_loop())

    async def _stop_watching_loop(self, *args: Any, **kwargs: Any) -> None:
        self.loop_watch.stop()

    # -- what the agents report ----------------------------------------------------------------
    def assigned(self, tps: Iterable[Any]) -> None:
        """A new assignment: watch its partitions of the agents' topics, every clock from now."""
        self.progress.assign([tp for tp in tps if tp.topic in self.topics], self.clock())
        self.stalls = []

    def took(self, events: Iterable[Any]) -> None:
        """An agent took ``events`` (Faust events, in offset order per partition)."""
        now = self.clock()
        last = {ev.message.tp: ev.message.offset for ev in events}
        for tp, offset in last.items():
            self.progress.took(tp, offset, now)

    # -- checks ------------------------------------------------------------------------------------
    def flowing(self) -> bool:
        """Joined, recovered, and the agents' partitions not paused for a rebalance."""
        app = self.app
        return bool(
            app.consumer_generation_id > 0  # joined the group at least once
            and not app.rebalancing
            and not getattr(app, "in_recovery", False)
            and app.flow_control.is_active()
        )

    def ready(self) -> tuple[bool, dict[str, Any]]:
        ok = self.flowing()
        return ok, {"status": "ready" if ok else "starting or rebalancing"}

    def live(self) -> tuple[bool, dict[str, Any]]:
        if not self.stalls:
            return True, {"status": "ok"}
        return False, {"status": "stalled", "partitions": [_describe(s) for s in self.stalls]}

    async def watch(self) -> None:
        """Timer: fetch again what the consumer dropped (:class:`streams.progress.Undelivered`), then look
        for stalls; on the first, log what is known and call ``on_stall``."""
        now = self.clock()
        if not self.flowing() or self.busy():
            self.progress.paused(now)
            self.undelivered.reset()
            return
        consumer = self.app.consumer
        tps = [tp for tp in consumer.assignment() if tp.topic in self.topics]
        try:
            starts = await asyncio.wait_for(_start_offsets(consumer, tps), LOOK_TIMEOUT_S)
            await self._refetch_undelivered(consumer, tps, starts)
        except Exception as exc:  # best effort: an exception in a Faust timer would stop the worker
            log.warning("consumer watchdog skipped a look (%s)", type(exc).__name__)
            return
        if self.stall_after_s <= 0:
            return
        stalls = self.progress.check({tp: known_highwater(consumer, tp) for tp in tps}, starts, now)
        if not stalls:
            self.stalls = []
            return
        self.stalls = stalls
        log.error(
            "worker stalled: records waiting for %.0f s or more on %s with nothing taken; consumer: %s; "
            "stopping (exit status %d) so that it is started again. Where its tasks wait:\n%s",
            self.stall_after_s,
            ", ".join(_describe(s)["partition"] for s in stalls),
            consumer_diagnostics(self.app, [s.tp for s in stalls]),
            EXIT_STALLED,
            _task_dump(),
        )
        self.on_stall(stalls)

    async def _refetch_undelivered(
        self, consumer: Any, tps: Sequence[Any], starts: dict[Any, int | None]
    ) -> None:
        """Seek back where the consumer dropped fetched records of ``tps`` (those not paused; ``starts``:
        where reading them began)."""
        active = getattr(consumer, "_active_partitions", None)
        tps = [tp for tp in tps if active is None or tp in active]
        read: dict[Any, int | None] = getattr(consumer, "_read_offset", {})
        positions = {tp: await asyncio.wait_for(consumer.position(tp), LOOK_TIMEOUT_S) for tp in tps}
        delivered = {tp: _next(read.get(tp), starts.get(tp)) for tp in tps}
        for tp, offset in self.undelivered.check(positions, delivered).items():
            log.warning(
                "%s[%d]: records from offset %d to %s were fetched but never delivered to the agent "
                "(faust dropped them in a rebalance); fetching them again",
                tp.topic,
                tp.partition,
                offset,
                positions[tp],
            )
            self.refetched += 1
            await consumer.seek(tp, offset)


def _next(last_read: int | None, start: int | None) -> int | None:
    return start if last_read is None else last_read + 1


async def _start_offsets(consumer: Any, tps: Sequence[Any]) -> dict[Any, int | None]:
    """Where reading each partition began: the group's committed offset, else the first kept."""
    committed: dict[Any, int | None] = getattr(consumer, "_committed_offset", {})
    out = {tp: committed.get(tp) for tp in tps}
    unknown = [tp for tp, offset in out.items() if offset is None]
    if unknown:
        out.update(await consumer.earliest_offsets(*unknown))
    return out


def _describe(stall: Stall[Any]) -> dict[str, Any]:
    return {
        "partition": f"{stall.tp.topic}/{stall.tp.partition}",
        "waiting_s": round(stall.idle_s, 1),
        "next_offset": stall.next_offset,
        "end_offset": stall.end_offset,
    }


def known_highwater(consumer: Any, tp: Any) -> int | None:
    """``tp``'s end offset as Faust's consumer last heard it (None before its first fetch)."""
    try:
        hw = consumer.highwater(tp)
    except Exception:  # not known before the first fetch
        return None
    return None if hw is None else int(hw)


def consumer_diagnostics(app: faust.App, tps: Sequence[Any]) -> dict[str, Any]:
    """What Faust's consumer and the aiokafka consumer under it know of ``tps`` (best effort: private
    attributes, read only for this log line)."""
    c = app.consumer
    out: dict[str, Any] = {"flow_active": getattr(c, "flow_active", None)}
    try:
        paused = set(getattr(c, "_paused_partitions", ()) or ())
        active = getattr(c, "_active_partitions", None)
        read = getattr(c, "_read_offset", {})
        out["faust"] = {
            f"{tp.topic}/{tp.partition}": {
                "paused": tp in paused,
                "active": None if active is None else tp in active,
                "read_offset": read.get(tp),
            }
            for tp in tps
        }
        inner = c._thread._consumer  # type: ignore[attr-defined]
        assignment = inner._subscription.subscription.assignment
        topics = {tp.topic for tp in tps}
        out["aiokafka_paused"] = sorted(f"{tp.topic}/{tp.partition}" for tp in inner.paused())
        out["aiokafka_position"] = {
            f"{tp.topic}/{tp.partition}": assignment.state_value(tp)._position
            for tp in inner.assignment()
            if tp.topic in topics
        }
    except Exception as exc:  # a faust or aiokafka upgrade renamed something: say so, keep the rest
        out["unavailable"] = type(exc).__name__
    return out


def _task_dump() -> str:
    """Where each task of this event loop waits: code locations only (mode's ``cry``, which SIGUSR1
    prints, shows local variables too, which can hold readings)."""
    buf = io.StringIO()
    for task in asyncio.all_tasks():
        print(f"task {task.get_name()}:", file=buf)
        task.print_stack(file=buf)
    return buf.getvalue()
