"""The worker's health checks and consumer watchdog (streams.health) against a stand-in for the parts of
Faust's app and consumer they read; the real ones answer in tests/integration/test_streams_pipeline.py."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from faust.types import TP

from streams.health import EXIT_STALLED, WorkerHealth

RAW = TP("vigil.readings.raw", 2)
READINGS = TP("vigil.readings", 2)
CHANGELOG = TP("vigil-patient-state-changelog", 2)


@dataclass
class StandInConsumer:
    """What the watchdog asks of Faust's consumer, as plain data."""

    positions: dict[TP, int]
    highwaters: dict[TP, int]
    earliest: dict[TP, int] = field(default_factory=dict)
    _committed_offset: dict[TP, int | None] = field(default_factory=dict)
    _read_offset: dict[TP, int | None] = field(default_factory=dict)
    _active_partitions: set[TP] | None = None
    seeks: list[tuple[TP, int]] = field(default_factory=list)

    def assignment(self) -> set[TP]:
        return set(self.positions)

    async def position(self, tp: TP) -> int:
        return self.positions[tp]

    async def earliest_offsets(self, *tps: TP) -> dict[TP, int]:
        return {tp: self.earliest.get(tp, 0) for tp in tps}

    async def seek(self, tp: TP, offset: int) -> None:
        self.seeks.append((tp, offset))
        self.positions[tp] = offset

    def highwater(self, tp: TP) -> int:
        return self.highwaters[tp]


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def standin_app(consumer: StandInConsumer, *, flowing: bool = True) -> Any:
    return SimpleNamespace(
        consumer=consumer,
        consumer_generation_id=3,
        rebalancing=False,
        in_recovery=False,
        flow_control=SimpleNamespace(is_active=lambda: flowing),
    )


def health_of(app: Any, clock: Clock, stalls: list[Any], busy: bool = False) -> WorkerHealth:
    h = WorkerHealth(
        app, [RAW.topic, READINGS.topic], 60.0, busy=lambda: busy, on_stall=stalls.extend, clock=clock
    )
    h.assigned(app.consumer.assignment())
    return h


def test_records_dropped_by_the_consumer_are_fetched_again_after_two_looks(caplog) -> None:
    # the restarted worker's partition: fetched to the end (3670), nothing delivered, nothing committed
    consumer = StandInConsumer(positions={RAW: 3670, READINGS: 3670}, highwaters={RAW: 3670, READINGS: 3670})
    consumer._read_offset[READINGS] = 3669  # delivered everything
    clock, stalls = Clock(), []
    h = health_of(standin_app(consumer), clock, stalls)
    asyncio.run(h.watch())
    assert consumer.seeks == [], "the first look could see records on their way"
    clock.t += 5
    with caplog.at_level(logging.WARNING, logger="streams.health"):
        asyncio.run(h.watch())
    assert consumer.seeks == [(RAW, 0)], "from the first kept offset: nothing was committed"
    assert "raw[2]: records from offset 0 to 3670 were fetched but never delivered" in caplog.text
    assert h.refetched == 1
    assert stalls == []


def test_a_partition_with_records_waiting_and_nothing_taken_stops_the_worker(caplog) -> None:
    consumer = StandInConsumer(
        positions={RAW: 120, READINGS: 40}, highwaters={RAW: 120, READINGS: 40}, _committed_offset={RAW: 100}
    )
    consumer._read_offset.update({RAW: 119, READINGS: 39})  # delivered: the agent never took them
    clock, stalls = Clock(), []
    h = health_of(standin_app(consumer), clock, stalls)
    h.took([SimpleNamespace(message=SimpleNamespace(tp=READINGS, offset=39))])
    asyncio.run(h.watch())
    clock.t += 59
    asyncio.run(h.watch())
    assert stalls == [] and h.live()[0]
    clock.t += 1
    with caplog.at_level(logging.ERROR, logger="streams.health"):
        asyncio.run(h.watch())
    assert [(s.tp, s.next_offset, s.end_offset) for s in stalls] == [(RAW, 100, 120)]
    ok, body = h.live()
    assert not ok
    assert body == {
        "status": "stalled",
        "partitions": [
            {"partition": "vigil.readings.raw/2", "waiting_s": 60.0, "next_offset": 100, "end_offset": 120}
        ],
    }
    assert f"exit status {EXIT_STALLED}" in caplog.text and "vigil.readings.raw/2" in caplog.text
    assert consumer.seeks == [], "delivered records are the agent's, not the consumer's, to take"


@pytest.mark.parametrize("why", ["rebalancing", "sink write pending"])
def test_no_stall_while_a_rebalance_or_a_sink_write_is_under_way(why: str) -> None:
    consumer = StandInConsumer(positions={RAW: 120}, highwaters={RAW: 120}, _committed_offset={RAW: 100})
    clock, stalls = Clock(), []
    app = standin_app(consumer, flowing=why != "rebalancing")
    h = health_of(app, clock, stalls, busy=why == "sink write pending")
    for _ in range(30):
        asyncio.run(h.watch())
        clock.t += 10
    assert stalls == [] and consumer.seeks == []
    assert h.ready()[0] is (why != "rebalancing")


def test_changelog_partitions_and_paused_partitions_are_not_fetched_again() -> None:
    consumer = StandInConsumer(
        positions={RAW: 50, CHANGELOG: 9}, highwaters={RAW: 50, CHANGELOG: 9}, _active_partitions={CHANGELOG}
    )
    clock, stalls = Clock(), []
    h = health_of(standin_app(consumer), clock, stalls)
    for _ in range(3):
        asyncio.run(h.watch())
        clock.t += 5
    assert consumer.seeks == []


def test_a_stalled_worker_exits_with_status_75_after_its_log_is_flushed() -> None:
    import subprocess
    import sys

    code = (
        "import logging, sys; logging.basicConfig(stream=sys.stderr);"
        "logging.getLogger('streams.health').error('worker stalled: see above');"
        "from streams.health import exit_stalled; exit_stalled([]); print('not reached')"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == EXIT_STALLED == 75
    assert "worker stalled: see above" in done.stderr and "not reached" not in done.stdout


def test_not_ready_before_joining_the_group() -> None:
    app = standin_app(StandInConsumer(positions={}, highwaters={}))
    h = health_of(app, Clock(), [])
    assert h.ready() == (True, {"status": "ready"})
    app.consumer_generation_id = 0
    assert h.ready() == (False, {"status": "starting or rebalancing"})


async def test_only_a_sink_write_waiting_longer_than_5_s_counts_as_an_outage(tmp_path) -> None:
    """Under load a batch's sink overlaps the next batches all the time: that must not pause the watchdog
    (it would never look); one waiting for seconds (InfluxDB down) must."""
    import time

    from streams.app import create_app
    from streams.topology import SINK_STUCK_S, Handled
    from vigil.settings import Settings

    topology = create_app(Settings(worker={"store": "memory", "data_dir": tmp_path}), worker_id="t").vigil
    pending: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    topology._handled = [Handled(sink=pending, started=time.perf_counter() - 1.0)]
    assert not topology._sink_stuck()
    topology._handled.append(Handled(sink=pending, started=time.perf_counter() - SINK_STUCK_S - 1.0))
    assert topology._sink_stuck()
    pending.set_result(None)
    assert not topology._sink_stuck()


def test_consumer_lag_counts_the_agents_partitions_past_their_committed_offsets(tmp_path) -> None:
    """The ``consumer_lag`` of the pipeline metrics: changelog partitions (assigned, never committed) and
    partitions whose end is not known yet are left out."""
    from streams.app import create_app
    from vigil.settings import Settings

    topology = create_app(Settings(worker={"store": "memory", "data_dir": tmp_path}), worker_id="t").vigil
    unheard = TP("vigil.readings", 4)

    class Consumer(StandInConsumer):
        def highwater(self, tp: TP) -> int:
            if tp == unheard:
                raise KeyError(tp)  # no fetch answered for it yet
            return super().highwater(tp)

    consumer = Consumer(
        positions={RAW: 0, READINGS: 0, CHANGELOG: 0, unheard: 0},
        highwaters={RAW: 120, READINGS: 500, CHANGELOG: 90_000},
        _committed_offset={RAW: 100, READINGS: None},
    )
    topology.app = SimpleNamespace(consumer=consumer)
    assert topology._consumer_lag() == (120 - 100) + (500 - 0)
