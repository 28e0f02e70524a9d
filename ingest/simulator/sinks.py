"""Where simulated (or replayed) readings go: files, Kafka, MQTT or the HTTP gateway, optionally paced.

Files are the fast path (JSON lines straight from columns). The other sinks are
thin layers over their clients and take :class:`~ingest.reading.Reading` objects,
so ``vigil simulate --from`` can send recorded data the same way.

>>> import io
>>> from datetime import UTC, datetime, timedelta
>>> t0 = datetime(2025, 1, 6, tzinfo=UTC)
>>> class Clock:
...     now = 0.0
...     def time(self): return self.now
...     def sleep(self, s): self.now += s
>>> clock = Clock()
>>> items = [t0, t0 + timedelta(minutes=10)]
>>> _ = list(pace(items, speed=60.0, when=lambda t: t, clock=clock.time, sleep=clock.sleep))
>>> clock.now
10.0
"""

from __future__ import annotations

import gzip
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import IO, Any, TypeVar

import orjson

from ingest.episodes import Episode, PatientProfile
from ingest.reading import Reading
from vigil.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")

READINGS_FILE = "readings.jsonl"
LABELS_FILE = "labels.jsonl"
PROFILES_FILE = "profiles.jsonl"
NATIVE_ITEM_KEYS = ("reading_id", "patient_id", "device_id", "metric", "value", "unit", "time", "quality")
"""The keys of a native gateway/MQTT item (the device's own view: no ``received`` or ``source``)."""


@dataclass(frozen=True, slots=True)
class FileSummary:
    """What a file sink wrote."""

    readings_path: Path
    labels_path: Path
    profiles_path: Path
    readings: int
    labels: int
    profiles: int


def open_output(path: Path) -> IO[bytes]:
    """Open ``path`` for binary writing, gzip-compressed when it ends in ``.gz``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gz":
        return gzip.open(path, "wb", compresslevel=3)  # type: ignore[return-value]
    return path.open("wb")


def write_lines(path: Path, chunks: Iterable[bytes], *, flush: bool = False) -> int:
    """Write JSON-lines chunks to ``path`` (gzip for ``.gz``); returns the number of lines."""
    n = 0
    with open_output(path) as fh:
        for chunk in chunks:
            fh.write(chunk)
            n += chunk.count(b"\n")
            if flush:
                fh.flush()
    return n


def write_ground_truth(
    out_dir: Path, episodes: Iterable[Episode], profiles: Iterable[PatientProfile], *, compress: bool = False
) -> tuple[Path, Path, int, int]:
    """Write the labels and profiles JSONL files; returns their paths and counts."""
    suffix = ".gz" if compress else ""
    labels, people = out_dir / f"{LABELS_FILE}{suffix}", out_dir / f"{PROFILES_FILE}{suffix}"
    n_labels = write_lines(labels, [orjson.dumps(e.model_dump(mode="json")) + b"\n" for e in episodes])
    n_people = write_lines(people, [orjson.dumps(p.model_dump(mode="json")) + b"\n" for p in profiles])
    return labels, people, n_labels, n_people


def write_files(
    out_dir: Path,
    chunks: Iterable[bytes],
    episodes: Iterable[Episode],
    profiles: Iterable[PatientProfile],
    *,
    compress: bool = False,
) -> FileSummary:
    """Write readings (JSON-lines chunks), labels and profiles JSONL files into ``out_dir``."""
    readings = out_dir / (READINGS_FILE + (".gz" if compress else ""))
    n = write_lines(readings, chunks)
    labels, people, n_labels, n_people = write_ground_truth(out_dir, episodes, profiles, compress=compress)
    return FileSummary(readings, labels, people, n, n_labels, n_people)


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Lists of up to ``size`` items (``itertools.batched`` arrives in Python 3.12).

    >>> list(batched(range(5), 2))
    [[0, 1], [2, 3], [4]]
    """
    it = iter(items)
    while part := list(islice(it, size)):
        yield part


def reading_lines(readings: Iterable[Reading], *, batch: int = 10_000) -> Iterator[bytes]:
    """Readings as JSON-lines chunks of up to ``batch`` lines."""
    for part in batched(readings, batch):
        yield b"".join(r.to_json() + b"\n" for r in part)


def pace(
    items: Iterable[T],
    *,
    speed: float,
    when: Callable[[T], datetime],
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[T]:
    """Yield ``items`` no faster than their ``when`` times allow at ``speed`` x real time (0: no pacing)."""
    origin: tuple[float, datetime] | None = None
    for item in items:
        if speed > 0:
            if origin is None:
                origin = (clock(), when(item))
            due = origin[0] + (when(item) - origin[1]).total_seconds() / speed
            wait = due - clock()
            if wait > 0:
                sleep(wait)
        yield item


def native_payload(readings: Sequence[Reading]) -> bytes:
    """A gateway/MQTT body ``{"readings": [...]}`` as the device would send it."""
    return orjson.dumps({"readings": [{k: r.to_dict()[k] for k in NATIVE_ITEM_KEYS} for r in readings]})


def by_device(readings: Sequence[Reading]) -> dict[str, list[Reading]]:
    """Readings grouped by device id (each device sends its own payloads)."""
    groups: dict[str, list[Reading]] = defaultdict(list)
    for r in readings:
        groups[r.device_id].append(r)
    return groups


def send_to_kafka(
    readings: Iterable[Reading],
    settings: Settings,
    *,
    batch: int = 500,
    sink: Any = None,
    profiles: Sequence[PatientProfile] = (),
) -> int:
    """Send ``profiles`` to the profiles topic, then readings to the readings topic, with the ingest
    producer (or ``sink``); returns the number of readings."""
    from ingest.producer import KafkaSink

    producer, n = sink or KafkaSink(settings), 0
    try:
        producer.send_profiles(profiles, actor="simulator")
        for part in batched(readings, batch):
            producer.send_readings(part)
            n += len(part)
    finally:
        if sink is None:
            producer.close()
    return n


def device_topic(topic_filter: str, device_id: str) -> str:
    """The topic a device publishes to: the filter's ``+`` replaced by its id.

    >>> device_topic("vigil/devices/+/readings", "sim-000001-oximeter")
    'vigil/devices/sim-000001-oximeter/readings'
    """
    if topic_filter.count("+") != 1 or "#" in topic_filter:
        raise ValueError(
            f"mqtt.topic_filter: {topic_filter!r} needs exactly one '+' (the device id) and no '#'"
        )
    return topic_filter.replace("+", device_id)


def send_to_mqtt(readings: Iterable[Reading], settings: Settings, *, batch: int = 100) -> int:
    """Publish native payloads to each device's topic (from ``mqtt.topic_filter``); returns the count."""
    import paho.mqtt.client as mqtt

    cfg = settings.mqtt
    device_topic(cfg.topic_filter, "check")  # fail before connecting on a filter devices cannot publish to
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="vigil-simulator")
    if cfg.username:
        client.username_pw_set(cfg.username, cfg.password.get_secret_value() if cfg.password else None)
    if cfg.tls:
        client.tls_set()
    client.connect(cfg.host, cfg.port)
    client.loop_start()
    n = 0
    try:
        for part in batched(readings, batch):
            for device_id, group in by_device(part).items():
                topic = device_topic(cfg.topic_filter, device_id)
                info = client.publish(topic, native_payload(group), qos=cfg.qos)
                info.wait_for_publish(timeout=30)
            n += len(part)
    finally:
        client.loop_stop()
        client.disconnect()
    return n


def register_devices(registry_path: Path, devices: dict[str, str], tokens_path: Path) -> dict[str, str]:
    """Register each simulated device (``device_id -> patient_id``) in the device registry file.

    The registry keeps only hashes; the bearer tokens are written to ``tokens_path``
    (owner-readable only) for the HTTP sink, and returned.
    """
    import os

    from ingest.registry import DeviceRegistry

    registry = DeviceRegistry(registry_path)
    tokens = {d: registry.add(d, patient_id=p, source="simulator") for d, p in sorted(devices.items())}
    tokens_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(tokens_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(orjson.dumps(tokens))
    return tokens


def send_to_gateway(
    readings: Iterable[Reading],
    base_url: str,
    tokens: dict[str, str],
    *,
    batch: int = 500,
    client: Any = None,
) -> int:
    """POST native batches to ``<base_url>/v1/readings``, one bearer token per device; returns the count.

    Raises ``KeyError`` naming a device without a token, and ``httpx.HTTPStatusError`` on a refusal.
    """
    import httpx

    http = client or httpx.Client(base_url=base_url, timeout=30.0)
    n = 0
    try:
        for part in batched(readings, batch):
            for device_id, group in by_device(part).items():
                if device_id not in tokens:
                    raise KeyError(f"no gateway token for device {device_id!r}")
                resp = http.post(
                    "/v1/readings",
                    content=native_payload(group),
                    headers={
                        "Authorization": f"Bearer {tokens[device_id]}",
                        "Content-Type": "application/json",
                    },
                )
                resp.raise_for_status()
            n += len(part)
    finally:
        if client is None:
            http.close()
    return n
