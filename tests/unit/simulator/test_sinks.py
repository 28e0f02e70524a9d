"""File, Kafka (in-memory producer), HTTP (mock transport) sinks and pacing."""

from __future__ import annotations

import gzip
import itertools
from datetime import timedelta
from pathlib import Path

import httpx
import orjson
import pytest

from ingest.adapters import from_native_json
from ingest.episodes import Episode, PatientProfile
from ingest.producer import MemorySink
from ingest.simulator import sinks
from ingest.simulator.cohort import Cohort
from vigil.settings import Settings


def test_write_files_gzip_round_trip(clean_cohort: Cohort, tmp_path: Path) -> None:
    files = sinks.write_files(
        tmp_path, clean_cohort.json_lines(), clean_cohort.episodes, clean_cohort.profiles, compress=True
    )
    assert files.readings_path.name == "readings.jsonl.gz"
    lines = gzip.decompress(files.readings_path.read_bytes()).splitlines()
    assert files.readings == len(lines) == len(clean_cohort)
    assert orjson.loads(lines[0]) == next(clean_cohort.records())
    profiles = [
        PatientProfile.model_validate_json(x)
        for x in gzip.decompress(files.profiles_path.read_bytes()).splitlines()
    ]
    assert profiles == clean_cohort.profiles


def test_labels_file_holds_the_episodes(default_cohort: Cohort, tmp_path: Path) -> None:
    files = sinks.write_files(tmp_path, iter(()), default_cohort.episodes, default_cohort.profiles)
    labels = [Episode.model_validate_json(x) for x in files.labels_path.read_bytes().splitlines()]
    assert labels == default_cohort.episodes and files.labels == len(labels) > 0


def test_pace_waits_for_arrival_times_at_speed(clean_cohort: Cohort) -> None:
    class Clock:
        now = 100.0

        def time(self) -> float:
            return self.now

        def sleep(self, s: float) -> None:
            self.now += s

    clock = Clock()
    readings = list(itertools.islice(clean_cohort.readings(), 200))
    out = list(
        sinks.pace(readings, speed=120.0, when=lambda r: r.received, clock=clock.time, sleep=clock.sleep)
    )
    assert out == readings
    span = (readings[-1].received - readings[0].received) / timedelta(seconds=1)
    assert span > 0
    assert clock.now - 100.0 == pytest.approx(span / 120.0)
    clock.now = 0.0
    list(sinks.pace(readings, speed=0, when=lambda r: r.received, clock=clock.time, sleep=clock.sleep))
    assert clock.now == 0.0


def test_kafka_sink_sends_every_reading_in_batches(clean_cohort: Cohort) -> None:
    memory = MemorySink()
    readings = list(itertools.islice(clean_cohort.readings(), 1234))
    profiles = clean_cohort.profiles
    assert sinks.send_to_kafka(readings, Settings(), batch=500, sink=memory, profiles=profiles) == 1234
    assert memory.readings == readings
    assert memory.profiles == list(profiles) and {p.spo2_scale for p in profiles} == {1, 2}


def test_gateway_sink_posts_native_batches_per_device(clean_cohort: Cohort) -> None:
    readings = list(itertools.islice(clean_cohort.readings(), 300))
    tokens = {r.device_id: f"{r.device_id}.secret" for r in readings}
    accepted = []

    def handler(request: httpx.Request) -> httpx.Response:
        device = request.headers["Authorization"].removeprefix("Bearer ").split(".")[0]
        result = from_native_json(
            orjson.loads(request.content), device_id=device, patient_id=device.rsplit("-", 1)[0]
        )
        assert not result.rejected
        accepted.extend(result.accepted)
        return httpx.Response(202)

    client = httpx.Client(base_url="http://gw", transport=httpx.MockTransport(handler))
    assert sinks.send_to_gateway(readings, "http://gw", tokens, batch=100, client=client) == 300
    key = lambda r: r.reading_id  # noqa: E731
    assert sorted((r.reading_id, r.value, r.time) for r in accepted) == sorted(
        (r.reading_id, r.value, r.time) for r in readings
    )
    assert sorted(map(key, accepted)) == sorted(map(key, readings))


def test_gateway_sink_names_a_device_without_token(clean_cohort: Cohort) -> None:
    readings = list(itertools.islice(clean_cohort.readings(), 5))
    client = httpx.Client(base_url="http://gw", transport=httpx.MockTransport(lambda r: httpx.Response(202)))
    try:
        sinks.send_to_gateway(readings, "http://gw", {}, client=client)
    except KeyError as exc:
        assert readings[0].device_id in str(exc)
    else:
        raise AssertionError("expected a KeyError naming the device")


def test_register_devices_issues_working_tokens(clean_cohort: Cohort, tmp_path: Path) -> None:
    from ingest.registry import DeviceRegistry

    devices = dict(itertools.islice(clean_cohort.devices().items(), 3))
    assert all(d.startswith(p) for d, p in devices.items())
    tokens = sinks.register_devices(tmp_path / "devices.json", devices, tmp_path / "out" / "tokens.json")
    assert orjson.loads((tmp_path / "out" / "tokens.json").read_bytes()) == tokens
    assert (tmp_path / "out" / "tokens.json").stat().st_mode & 0o777 == 0o600
    registry = DeviceRegistry(tmp_path / "devices.json")
    for device_id, token in tokens.items():
        record = registry.authenticate(token)
        assert (record.id, record.patient_id) == (device_id, devices[device_id])
