"""The detect and acknowledge agents in-process (Faust ``agent.test_context()``, memory store).

Kafka output is captured by replacing each output topic's ``send`` (and the table's changelog
send) with a recorder; InfluxDB and Grafana are injected posters. Everything else is the worker's
real code path: batching, table state, watermarks, offsets, sinks, alert records.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from detectors.monitor import PatientState
from ingest.reading import make_reading
from streams.app import create_app
from streams.detect import Snapshot
from streams.grafana_sink import AnnotationSink
from streams.heartbeats import Heartbeat
from streams.influx_sink import InfluxSink
from streams.partitioning import partition_for
from streams.topology import Storing
from tests.unit.streams.async_probes import wait_until
from vigil.settings import Settings

T0 = datetime(2025, 1, 6, 8, tzinfo=UTC)
SPO2 = [96, 97, 96, 95, 96, 97, 96, 85, 84]  # falls below the hard limit at the end


class Captured:
    def __init__(self) -> None:
        self.influx: list[str] = []
        self.annotations: list[dict[str, Any]] = []
        self.records: dict[str, list[dict[str, Any]]] = {}
        self.changelog: list[bytes] = []

    async def post_influx(self, body: bytes) -> None:
        self.influx.extend(body.decode().split("\n"))

    async def post_annotation(self, kwargs: dict[str, Any]) -> None:
        self.annotations.append(kwargs)

    def recorder(self, names: dict[str, str]) -> Callable[..., Any]:
        async def send(topic: Any, records: list[tuple[Any, bytes, Any]]) -> list[asyncio.Future[None]]:
            self.records.setdefault(names[topic.get_topic_name()], []).extend(
                orjson.loads(value) for _, value, _ in records
            )
            done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            done.set_result(None)
            return [done]

        return send


@pytest.fixture
def captured_app(tmp_path: Path) -> tuple[Any, Captured]:
    return captured(tmp_path)


def captured(tmp_path: Path, checkpoint_interval_ms: int = 1000) -> tuple[Any, Captured]:
    """The app with Kafka output, InfluxDB and Grafana captured."""
    settings = Settings(
        worker={
            "store": "memory",
            "app_id": "inproc",
            "data_dir": tmp_path,
            "checkpoint_interval_ms": checkpoint_interval_ms,
        },
        grafana={"ack_base_url": "https://vigil.test"},
        detectors={"warmup_readings": 5},
    )
    cap = Captured()
    app = create_app(
        settings,
        worker_id="t1",
        influx=InfluxSink(settings.influx, post=cap.post_influx),
        annotations=AnnotationSink(settings.grafana, post=cap.post_annotation),
    )
    topo = app.vigil
    topo.send_records = cap.recorder(
        {getattr(topo, name).get_topic_name(): name for name in ("scores", "alerts", "dead_letter")}
    )

    def send_changelog(partition: int, key: bytes, value: bytes, *args: Any, **kwargs: Any) -> Any:
        cap.changelog.append(key)
        return SimpleNamespace(message=SimpleNamespace(partition=partition))

    topo.table.send_changelog = send_changelog
    return app, cap


def handled(topology: Any) -> int:
    """Readings the detect agent has finished with (sent, written and, at a checkpoint, stored): counted
    after the state."""
    return int(topology.metrics.readings)


def not_stored(topology: Any) -> int:
    """Batches handled and not yet in the table: waiting for a checkpoint, or in the one being stored."""
    storing = topology._storing
    in_flight = storing.handled if storing is not None and not storing.task.done() else []
    return len(topology._handled) + len(in_flight)


def held_influx(topology: Any, cap: Captured) -> tuple[asyncio.Event, asyncio.Event]:
    """Make InfluxDB writes hang: the first event is set when a write starts, the second lets them through."""
    in_flight, release = asyncio.Event(), asyncio.Event()

    async def slow_influx(body: bytes) -> None:
        in_flight.set()
        await release.wait()
        await cap.post_influx(body)

    topology.influx._post = slow_influx
    return in_flight, release


def readings() -> list[bytes]:
    return [
        make_reading(
            patient_id="p-1", device_id="ox-1", metric="spo2", value=v, time=T0 + timedelta(minutes=10 * i)
        ).to_json()
        for i, v in enumerate(SPO2)
    ]


async def test_detect_agent_stores_points_sends_scores_and_alerts_then_state(captured_app) -> None:
    app, cap = captured_app
    topo = app.vigil
    async with topo.detect_agent.test_context() as agent:
        for value in [*readings(), b'{"reading_id": "x"}']:
            await agent.put(value, key=b"p-1")
        await wait_until(lambda: handled(topo) == len(SPO2))
        await wait_until(lambda: len(cap.annotations) >= 1)
    reading_lines = [line for line in cap.influx if line.startswith("reading,")]
    assert len(reading_lines) == len(SPO2)
    raised = [a for a in cap.records["alerts"] if a["status"] == "raised"]
    assert {a["kind"] for a in raised} >= {"hard_limit"}
    assert all(a["ack_url"] == f"https://vigil.test/v1/alerts/{a['alert_id']}/ack" for a in raised)
    assert any(line.startswith("alert,") and "status=raised" in line for line in cap.influx)
    assert [d["stage"] for d in cap.records["dead_letter"]] == ["detect"]
    assert b"p-1" in cap.changelog and topo.table[b"p-1"] is not None


async def test_readings_seen_again_are_not_stored_or_scored_twice(captured_app) -> None:
    app, cap = captured_app
    async with app.vigil.detect_agent.test_context() as agent:
        for value in readings():
            await agent.put(value, key=b"p-1")
        await wait_until(lambda: handled(app.vigil) == len(SPO2))
        for value in readings()[-3:]:  # re-delivered by a producer retry
            await agent.put(value, key=b"p-1")
        fresh = make_reading(
            patient_id="p-1", device_id="ox-1", metric="spo2", value=95, time=T0 + timedelta(hours=2)
        )
        await agent.put(fresh.to_json(), key=b"p-1")
        await wait_until(lambda: handled(app.vigil) == len(SPO2) + 1)
    ids = [s["reading"]["reading_id"] for s in cap.records["scores"]]
    assert len(set(ids)) == len(ids) and ids[-1] == fresh.reading_id
    assert len([line for line in cap.influx if line.startswith("reading,")]) == len(SPO2) + 1


async def test_acknowledgement_is_applied_and_audited(captured_app) -> None:
    app, cap = captured_app
    topo = app.vigil
    async with topo.detect_agent.test_context() as agent:
        for value in readings():
            await agent.put(value, key=b"p-1")
        await wait_until(lambda: handled(topo) == len(SPO2))
    alert = next(a for a in cap.records["alerts"] if a["status"] == "raised")
    ack = {
        "alert_id": alert["alert_id"],
        "patient_id": "p-1",
        "clinician_id": "c-7",
        "action": "acknowledge",
        "time": alert["time"],
    }
    alerts_before = topo.metrics.alerts
    async with topo.ack_agent.test_context() as agent:
        await agent.put(orjson.dumps(ack), key=b"p-1")
        await wait_until(lambda: topo.metrics.alerts > alerts_before)
    assert any(line.startswith("ack,") for line in cap.influx)
    assert any(a["status"] == "acknowledged" and a["actor"] == "c-7" for a in cap.records["alerts"])


async def test_a_profile_sets_the_spo2_scale_the_readings_are_judged_on(captured_app) -> None:
    app, cap = captured_app
    topo = app.vigil
    scale_2 = orjson.dumps({"patient_id": "p-1", "spo2_scale": 2, "conditions": ["copd"]})
    bad = b'{"patient_id": "p-1", "spo2_scale": 3}'
    async with topo.profile_agent.test_context() as agent:
        await agent.put(scale_2, key=b"p-1", headers={"vigil-actor": b"dr-a"})
        await agent.put(bad, key=b"p-1")
        await agent.put(b'{"patient_id": "p-2", "spo2_scale": 2}', key=b"p-1")  # keyed by another patient
        await wait_until(
            lambda: topo.table.get(b"p-1") is not None and len(cap.records.get("dead_letter", [])) == 2
        )
    assert PatientState.from_bytes(topo.table[b"p-1"]).spo2_scale == 2
    assert topo.table.get(b"p-2") is None
    dead, wrong_key = cap.records["dead_letter"]
    assert (dead["stage"], dead["field"]) == ("profile", "spo2_scale")
    assert base64.b64decode(dead["raw"]) == bad and dead["reason"]
    assert (wrong_key["stage"], wrong_key["field"]) == ("profile", "key")
    [audit] = [line for line in cap.influx if line.startswith("profile,")]
    assert audit.startswith("profile,patient_id=p-1 ") and 'actor="dr-a"' in audit
    assert 'conditions="copd"' in audit and "spo2_scale=2i" in audit
    async with topo.detect_agent.test_context() as agent:
        for value in readings():
            await agent.put(value, key=b"p-1")
        await wait_until(lambda: handled(topo) == len(SPO2))
    # SpO2 84-85 % on air scores 3 on scale 1 (a hard-limit alert, see the first test) but 2 on scale 2
    assert not [a for a in cap.records.get("alerts", []) if a["kind"] == "hard_limit"]
    spo2_points = [
        f for line in cap.influx if line.startswith("news2,") for f in line.split(",") if "sub_spo2=" in f
    ]
    assert spo2_points[-2:] == ["sub_spo2=2i", "sub_spo2=2i"], spo2_points


async def test_a_profile_arriving_during_a_detect_batch_is_not_overwritten_by_it(tmp_path: Path) -> None:
    """The detect batch decides from the state it read, then awaits InfluxDB and Kafka before its state is
    stored; a profile applied meanwhile must not be replaced by that older copy (nor the profile's offset
    stored with the update lost)."""
    app, cap = captured(tmp_path, checkpoint_interval_ms=60_000)  # the detect batch waits for the profile's
    topo = app.vigil
    in_flight, release = held_influx(topo, cap)
    scale_2 = orjson.dumps({"patient_id": "p-1", "spo2_scale": 2})
    async with topo.detect_agent.test_context() as detect, topo.profile_agent.test_context() as profile:
        for value in readings()[:3]:  # not waiting: the agent holds its batch until `release`
            await detect.put(value, key=b"p-1", wait=False)
        await asyncio.wait_for(in_flight.wait(), 10)  # the detect batch has decided, not yet stored
        await profile.put(scale_2, key=b"p-1", wait=False)
        # the profile batch is handled too (on the detect batch's state) before either is stored
        await wait_until(lambda: not_stored(topo) == 2)
        assert b"p-1" not in cap.changelog
        release.set()
        await wait_until(lambda: not topo._handled and b"p-1" in cap.changelog)
    state = PatientState.from_bytes(topo.table[b"p-1"])
    assert state.spo2_scale == 2
    assert len(state.recent_ids) == 3  # and the detect batch's readings are in it
    assert len(cap.records["scores"]) == 3
    stored_topics = {key.split(b":")[1].decode() for key in cap.changelog if key.startswith(b"~off:")}
    assert stored_topics == {topo.readings.get_topic_name(), topo.profiles.get_topic_name()}


async def test_the_detect_agent_goes_on_while_a_checkpoint_waits_for_its_sinks(tmp_path: Path) -> None:
    """A checkpoint is stored in the background: the next batch is decided (from the state the checkpoint
    is storing, not the table's older one) while the first batch's InfluxDB write still hangs."""
    app, cap = captured(tmp_path, checkpoint_interval_ms=0)  # a checkpoint after every batch
    topo = app.vigil
    in_flight, release = held_influx(topo, cap)
    first, second = readings()[:3], readings()[3:6]
    async with topo.detect_agent.test_context() as detect:
        for value in first:
            await detect.put(value, key=b"p-1", wait=False)
        await asyncio.wait_for(in_flight.wait(), 10)
        await wait_until(lambda: len(cap.records.get("scores", [])) == 3)
        for value in second:
            await detect.put(value, key=b"p-1", wait=False)
        await wait_until(lambda: len(cap.records.get("scores", [])) == 6)  # decided, not stored
        assert b"p-1" not in cap.changelog and handled(topo) == 0
        release.set()
        await wait_until(lambda: handled(topo) == 6 and not_stored(topo) == 0)
    state = PatientState.from_bytes(topo.table[b"p-1"])
    assert len(state.recent_ids) == 6  # the second batch built on the first one's state
    assert len([line for line in cap.influx if line.startswith("reading,")]) == 6


async def test_a_checkpoint_seals_states_and_each_is_encoded_before_the_next_batch_changes_it(
    tmp_path: Path,
) -> None:
    """A checkpoint encodes no state while it holds the agent: the next batch encodes those it touches
    (as they were at the checkpoint) and the background the rest, after the sinks."""
    app, cap = captured(tmp_path, checkpoint_interval_ms=0)
    topo = app.vigil
    in_flight, release = held_influx(topo, cap)
    first = readings()[:3]  # T0 .. T0 + 20 min
    other = make_reading(patient_id="p-2", device_id="ox-2", metric="spo2", value=97, time=T0)
    # before the next event-time tick (T0 + 25 min), which would touch every patient
    second = [
        make_reading(
            patient_id="p-1", device_id="ox-1", metric="spo2", value=96, time=T0 + timedelta(minutes=m)
        )
        for m in (21, 22)
    ]
    async with topo.detect_agent.test_context() as detect:
        for value in first:
            await detect.put(value, key=b"p-1", wait=False)
        await detect.put(other.to_json(), key=b"p-2", wait=False)
        await asyncio.wait_for(in_flight.wait(), 10)
        await wait_until(lambda: topo._storing is not None and len(cap.records.get("scores", [])) == 4)
        snapshot = topo._storing.states
        assert set(snapshot.pending) == {"p-1", "p-2"} and not snapshot.changed  # sealed, not encoded
        for r in second:
            await detect.put(r.to_json(), key=b"p-1", wait=False)
        await wait_until(lambda: len(cap.records.get("scores", [])) == 6)
        assert set(snapshot.pending) == {"p-2"} and set(snapshot.changed) == {"p-1"}
        at_checkpoint = PatientState.from_bytes(snapshot.changed["p-1"][1])
        assert len(at_checkpoint.recent_ids) == 3  # as it was, not with the second batch's readings
        release.set()
        await wait_until(lambda: handled(topo) == 6 and not_stored(topo) == 0)
        assert not snapshot.pending and topo.stage.sealed is not snapshot
    assert len(PatientState.from_bytes(topo.table[b"p-1"]).recent_ids) == 5
    assert len(PatientState.from_bytes(topo.table[b"p-2"]).recent_ids) == 1


async def test_a_checkpoint_that_could_not_be_stored_fails_the_next_one(captured_app) -> None:
    """A background store that failed (a sink's Kafka delivery, say) is due at once and raised by the next
    checkpoint, before it takes a snapshot; reported once."""
    app, _ = captured_app
    topo = app.vigil

    async def delivery_failed() -> None:
        raise RuntimeError("delivery failed")

    failed = Storing([], Snapshot(changed={"p-1": (0, b"state")}), {}, {})
    failed.task = asyncio.ensure_future(delivery_failed())
    topo._storing = failed
    await wait_until(failed.task.done)
    assert topo._idle_limit() == 0.0
    with pytest.raises(RuntimeError, match="delivery failed"):
        await topo.checkpoint()
    assert topo._storing is None and topo._idle_limit() is None
    await topo.checkpoint()  # nothing left to report
    await topo.stored()


def test_a_patient_only_in_the_checkpoint_being_stored_is_still_ticked(captured_app) -> None:
    """The tick index, rebuilt after a failed batch, includes patients whose first state is still on its
    way into the table, encoded or not yet (else a patient who then falls silent would never get a
    data-gap alert)."""
    app, _ = captured_app
    topo = app.vigil
    partition = partition_for(b"p-new", topo.partitions)
    other = next(
        f"p-{i}" for i in range(99) if partition_for(f"p-{i}".encode(), topo.partitions) == partition
    )
    states = Snapshot({"p-new": (partition, PatientState("p-new"), None)}, {other: (partition, b"{}")})
    topo._storing = Storing([], states, {b"~wm:%d" % partition: (partition, b"x")}, {})
    topo._abandon()
    assert topo.patients_of(partition) == {"p-new", other}


async def test_a_heartbeat_record_raises_a_silent_patients_data_gap_and_is_no_reading(captured_app) -> None:
    app, cap = captured_app
    topo = app.vigil
    hourly = [
        make_reading(patient_id="p-1", device_id="ox-1", metric="spo2", value=96, time=at)
        for at in [T0 + timedelta(hours=h) for h in range(12)]
    ]
    key, value, headers = Heartbeat(hourly[-1].time + timedelta(hours=4)).record()
    async with topo.detect_agent.test_context() as agent:
        for r in hourly:
            await agent.put(r.to_json(), key=b"p-1")
        await agent.put(value, key=key, headers=dict(headers))
        await wait_until(lambda: any(a["kind"] == "data_gap" for a in cap.records.get("alerts", [])))
        await wait_until(lambda: topo.table.get(b"~wall:0") is not None)
    [gap] = [a for a in cap.records["alerts"] if a["kind"] == "data_gap"]
    assert (gap["patient_id"], gap["status"]) == ("p-1", "raised")
    assert any(line.startswith("alert,") and "data_gap" in line for line in cap.influx)
    assert len([line for line in cap.influx if line.startswith("reading,")]) == len(hourly)
    assert len(cap.records["scores"]) == len(hourly) and not cap.records.get("dead_letter")
    assert topo.table[b"~wm:0"] == (hourly[-1].time + timedelta(hours=4)).isoformat().encode()


async def test_the_heartbeat_timer_sends_to_silent_owned_partitions_and_survives_a_failed_send(
    captured_app, monkeypatch, caplog
) -> None:
    from faust.types import TP

    app, _ = captured_app
    topo = app.vigil
    readings = topo.readings.get_topic_name()
    owned = {TP(readings, 0), TP(readings, 1), TP(topo.raw.get_topic_name(), 2)}
    monkeypatch.setattr(type(app.consumer), "assignment", lambda self: owned)
    app.flow_control.resume()
    wall = [1_000.0]
    topo.silence._now = lambda: wall[0]
    topo.unstored[b"~wm:0"] = (0, T0.isoformat().encode())  # partition 0 has data, 1 never had any
    topo.unstored[b"~wall:0"] = (0, b"1000.0")
    sent: list[tuple[str, dict[int, Any]]] = []

    async def send_to_partitions(topic: Any, by_partition: dict[int, Any]) -> list[Any]:
        sent.append((topic.get_topic_name(), by_partition))
        return []

    monkeypatch.setattr(topo, "send_to_partitions", send_to_partitions)
    await topo.send_heartbeats()
    assert sent == []  # silent for 0 s
    wall[0] += topo.silence.after_s
    await topo.send_heartbeats()
    [(topic, by_partition)] = sent
    assert topic == readings and list(by_partition) == [0]
    [(key, value, headers)] = by_partition[0]
    assert Heartbeat(T0 + timedelta(seconds=topo.silence.after_s)).record() == (key, value, headers)
    assert topo.metrics.heartbeats == 1

    async def broker_down(topic: Any, by_partition: dict[int, Any]) -> list[Any]:
        raise TimeoutError("delivery")

    monkeypatch.setattr(topo, "send_to_partitions", broker_down)
    wall[0] += topo.silence.after_s
    await topo.send_heartbeats()  # logs, does not raise (a Faust timer's exception stops the worker)
    assert "heartbeats not sent (TimeoutError)" in caplog.text and topo.metrics.heartbeats == 1
