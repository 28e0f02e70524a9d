"""``vigil bench pipeline``: one worker end to end on the local Kafka and InfluxDB, measured.

Everything runs on private topics, an InfluxDB database and a Faust app id named
``bench-<hex>`` (removed afterwards):

1. *throughput*: ``readings`` canonical readings from a simulated cohort of ``patients`` are put on
   the readings topic, then one worker (``python -m vigil worker``) is started; readings/s =
   readings / (timestamp of the last score record - timestamp of the first). A score is sent
   only after its InfluxDB write was accepted, so this is Kafka in -> InfluxDB out.
2. *bare loop*: an aiokafka consumer reads and decodes (``Reading.from_json``) the same topic;
   ``ratio`` = worker readings/s / bare readings/s.
3. *latency* (``rate`` > 0): readings are produced at ``rate``/s for ``latency_seconds`` to the
   caught-up worker; latency = score record timestamp - input record timestamp, p50/p99.
4. *memory*: the worker's RSS after the run, and the mean serialised ``PatientState`` bytes
   of the cohort's patients, times 10,000.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson

from ingest.reading import Reading
from ingest.simulator.cohort import simulate_readings
from ingest.simulator.config import CohortConfig
from vigil.settings import Settings


def bench_settings(settings: Settings, name: str) -> Settings:
    """``settings`` with private topics, database and app id ``name``."""
    t = settings.topics
    topics = t.model_copy(
        update={
            f: f"{name}.{getattr(t, f)}"
            for f in ("raw", "readings", "scores", "alerts", "acks", "dead_letter")
        }
    )
    return settings.model_copy(
        update={
            "topics": topics,
            "influx": settings.influx.model_copy(update={"bucket": name}),
            "worker": settings.worker.model_copy(
                update={"app_id": name, "store": "rocksdb", "data_dir": Path(".cache/bench")}
            ),
            "grafana": settings.grafana.model_copy(
                update={"url": "http://127.0.0.1:9"}
            ),  # no Grafana: dropped
        }
    )


def cohort_readings(n: int, patients: int, seed: int = 1) -> list[Reading]:
    """``n`` distinct readings of ``patients`` simulated patients (as many days as needed), first ``n``."""
    days = 1.0
    while True:
        unique = {
            r.reading_id: r for r in simulate_readings(CohortConfig(patients=patients, days=days, seed=seed))
        }
        rs = list(unique.values())  # the simulator re-sends a few readings on purpose; count each once
        if len(rs) >= n:
            rs.sort(key=lambda r: r.time)
            return rs[:n]
        days *= max(1.5, 1.1 * n / max(len(rs), 1))


def _influx(settings: Settings, q: str) -> None:
    httpx.post(
        f"{settings.influx.url}/query",
        data={"q": q},
        timeout=30,
        headers={"Authorization": f"Token {settings.influx.token.get_secret_value()}"},
    ).raise_for_status()


def _produce(settings: Settings, records: list[tuple[bytes, bytes]], rate: float = 0.0) -> None:
    from kafka import KafkaProducer

    producer = KafkaProducer(
        bootstrap_servers=settings.kafka.bootstrap_list,
        linger_ms=5,
        acks=1,
        batch_size=256 * 1024,
        **settings.kafka.kafka_python_config(),
    )
    start = time.perf_counter()
    for i, (key, value) in enumerate(records):
        if rate and i % 100 == 0:
            ahead = i / rate - (time.perf_counter() - start)
            if ahead > 0:
                time.sleep(ahead)  # pacing the producer, not waiting for a result
        producer.send(settings.topics.readings, key=key, value=value)
    producer.flush(120)
    producer.close()


def _read_timestamps(settings: Settings, topic: str, n: int, timeout_s: float) -> dict[str, int]:
    """reading id -> record timestamp (ms) for the first ``n`` records of ``topic`` (readings or scores)."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka.bootstrap_list,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=1000,
        **settings.kafka.kafka_python_config(),
    )
    out: dict[str, int] = {}
    deadline = time.monotonic() + timeout_s
    while len(out) < n and time.monotonic() < deadline:
        for rec in consumer:
            d = orjson.loads(rec.value)
            out[(d.get("reading") or d)["reading_id"]] = rec.timestamp
            if len(out) >= n:
                break
    consumer.close()
    return out


async def _bare_loop(settings: Settings, n: int) -> float:
    """Readings/s of a plain aiokafka consume-and-decode loop over the readings topic."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        settings.topics.readings,
        bootstrap_servers=settings.kafka.bootstrap_servers,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        seen, start = 0, None
        while seen < n:
            batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
            if start is None:
                start = time.perf_counter()
            for records in batch.values():
                for rec in records:
                    Reading.from_json(rec.value)
                    seen += 1
        return n / (time.perf_counter() - (start or time.perf_counter()))
    finally:
        await consumer.stop()


def _state_bytes_per_patient(settings: Settings, readings: list[Reading]) -> float:
    from detectors.monitor import PatientMonitor
    from ingest.episodes import PatientProfile
    from vigil.tuning import monitor_config

    monitor = PatientMonitor(monitor_config(settings))
    states: dict[str, Any] = {}
    for r in readings:
        st = states.get(r.patient_id) or states.setdefault(
            r.patient_id, monitor.new_state(PatientProfile(patient_id=r.patient_id))
        )
        monitor.process(st, r)
    return float(np.mean([len(st.to_bytes()) for st in states.values()]))


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def run_pipeline_bench(
    settings: Settings,
    *,
    readings: int,
    patients: int,
    rate: int = 0,
    latency_seconds: float = 10.0,
    state_patients: int = 10_000,
) -> dict[str, Any]:
    """Run the benchmark (see module docstring) and return its numbers."""
    from ingest.topics import ensure_topics
    from streams.worker import start_worker_process

    name = f"bench-{uuid.uuid4().hex[:8]}"
    s = bench_settings(settings, name)
    ensure_topics(s)
    _influx(s, f'CREATE DATABASE "{name}"')
    data = cohort_readings(readings, patients)
    _produce(s, [(r.patient_id.encode(), r.to_json()) for r in data])
    proc = start_worker_process(s, "bench-1", Path(".cache/bench") / f"{name}.log")
    try:
        scores = _read_timestamps(s, s.topics.scores, readings, timeout_s=300)
        if len(scores) < readings:
            raise RuntimeError(f"worker scored only {len(scores)} of {readings} readings (log: .cache/bench)")
        ts = sorted(scores.values())
        worker_rate = (len(ts) - 1) / max((ts[-1] - ts[0]) / 1000.0, 1e-3)
        bare_rate = asyncio.run(_bare_loop(s, readings))
        result: dict[str, Any] = {
            "readings": readings,
            "patients": patients,
            "partitions": s.topics.partitions,
            "batch_size": s.worker.batch_size,
            "worker_readings_per_s": round(worker_rate, 1),
            "bare_aiokafka_decode_readings_per_s": round(bare_rate, 1),
            "ratio": round(worker_rate / bare_rate, 3),
        }
        if rate:
            extra = cohort_readings(int(rate * latency_seconds), patients, seed=2)
            extra = [r.model_copy(update={"reading_id": f"lat-{i:09d}"}) for i, r in enumerate(extra)]
            _produce(s, [(r.patient_id.encode(), r.to_json()) for r in extra], rate=rate)
            total = readings + len(extra)
            arrived = _read_timestamps(s, s.topics.readings, total, 120)
            scored = _read_timestamps(s, s.topics.scores, total, 300)
            lat = np.array([scored[k] - arrived[k] for k in scored if k.startswith("lat-") and k in arrived])
            result.update(
                {
                    "latency_rate_per_s": rate,
                    "latency_samples": int(lat.size),
                    "latency_p50_ms": float(np.percentile(lat, 50)),
                    "latency_p99_ms": float(np.percentile(lat, 99)),
                }
            )
        result["worker_rss_mb"] = round(_rss_mb(proc.pid), 1)
        per_patient = _state_bytes_per_patient(s, data)
        result["state_bytes_per_patient"] = round(per_patient, 1)
        result[f"state_mb_per_{state_patients}_patients"] = round(per_patient * state_patients / 2**20, 2)
        return result
    finally:
        proc.terminate()
        proc.wait(30)
        _influx(s, f'DROP DATABASE "{name}"')
        _delete_topics(s, name)


def _delete_topics(settings: Settings, prefix: str) -> None:
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(
        bootstrap_servers=settings.kafka.bootstrap_list, **settings.kafka.kafka_python_config()
    )
    try:
        doomed = [t for t in admin.list_topics() if t.startswith(prefix)]
        if doomed:
            admin.delete_topics(doomed)
    finally:
        admin.close()
