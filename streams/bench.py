"""``vigil bench pipeline``: the stream worker end to end on the local Kafka and InfluxDB, measured.

Everything runs on private topics, an InfluxDB database and a Faust app id named
``bench-<hex>`` (removed afterwards):

1. *throughput*: ``readings`` canonical readings from a simulated cohort of ``patients`` are put on
   the readings topic, then one worker (``python -m vigil worker``) is started; readings/s =
   readings / (the later of the last score record's timestamp and the moment InfluxDB holds every
   reading point - the first score record's timestamp): Kafka in -> Kafka and InfluxDB out. While
   the worker runs the bench only polls the scores topic's end offsets and InfluxDB's point count
   (every 100 ms); the score records are read afterwards (their timestamps are the broker's).
2. *bare loop*: an aiokafka consumer reads and decodes (``Reading.from_json``) the same topic;
   ``ratio`` = worker readings/s / bare readings/s. ``worker_cpu_us_per_reading``: the worker
   process's CPU time (all threads) from the last poll before its first score to the end, per
   reading — steadier than readings/s on a machine whose cores Kafka and InfluxDB share.
   *Faust floor*: :mod:`streams.floor` (a Faust app with the worker's transport and batching whose
   agent only decodes and acknowledges) over the same topic: ``faust_floor_readings_per_s``,
   ``faust_floor_cpu_us_per_reading`` and ``faust_floor_ratio`` = floor / bare, the best ratio any
   Faust worker could reach on the machine.
3. *latency* (``rate`` > 0): with ``latency_workers`` > 1 the other workers are started and a
   second of warm-up readings at ``rate`` is scored first (the group has rebalanced and each
   worker has restored its patients' state). Then the cohort's next ``rate * latency_seconds``
   readings (the same patients, event times continuing) are produced at ``rate``/s to the
   caught-up worker(s), with hard-limit heart-rate runs injected (:func:`inject_hard_limit_runs`)
   so that alerts are raised and resolved throughout. Score latency = score record timestamp -
   input record timestamp; alert latency = alert record timestamp - timestamp of the reading
   that triggered it (an alert's ``time`` is that reading's event time:
   :func:`match_alert_latencies`). p50/p99 of each. The readings, scores and alerts topics keep the
   broker's append time as record timestamp (``LogAppendTime``), so a latency starts when the
   reading is in Kafka, not when the bench's producer was asked to send it (its client-side
   buffering is not the worker's latency). ``latency_worker_cpu_us_per_reading`` and
   ``latency_worker_cores``: the workers' CPU time from the first reading produced to the last one
   scored, per reading and per second of that span (what workers cost at ``rate``, not flat out;
   both include the little the idle workers use while the bench reads the scores).
4. *memory*: the worker's RSS after the run; and a patient's detector state after ``state_days`` of
   simulated readings (:func:`state_footprint`: the steady state, which a short run's cohort has not
   reached), stored (the table's bytes) and decoded (the worker's cache of decoded states,
   ``worker.state_cache_patients``), times ``state_patients``.
5. *recovery* (``recovery_patients`` > 0): a worker whose table holds that many such states starts
   with a fresh store (replaying the table's changelog, as a worker taking over partitions does) and
   again with the store it kept: seconds to ``/health/ready`` (:func:`recovery_times`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson

from ingest.metrics import Metric
from ingest.reading import Reading
from ingest.simulator.cohort import simulate_readings
from ingest.simulator.config import CohortConfig
from ingest.topics import TOPIC_FIELDS
from vigil.settings import Settings, child_environment

BENCH_DIR = Path(".cache/bench")
"""The bench workers' stores (removed after a run) and logs (kept only when it failed)."""


def bench_settings(settings: Settings, name: str) -> Settings:
    """``settings`` with private topics, database and app id ``name`` (the worker's batch size is the
    caller's: ``VIGIL_WORKER__BATCH_SIZE``)."""
    t = settings.topics
    topics = t.model_copy(update={f: f"{name}.{getattr(t, f)}" for f in TOPIC_FIELDS})
    return settings.model_copy(
        update={
            "topics": topics,
            "influx": settings.influx.model_copy(update={"bucket": name}),
            "worker": settings.worker.model_copy(
                update={
                    "app_id": name,
                    "web_host": "127.0.0.1",
                    "store": "rocksdb",
                    "data_dir": BENCH_DIR,
                }
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


def inject_hard_limit_runs(
    readings: Sequence[Reading], *, every: int = 48, run: int = 2, value: float = 150.0
) -> tuple[list[Reading], int]:
    """``readings`` with ``run`` heart-rate readings in a row of every ``every`` per patient set to ``value``.

    Deterministic: the k-th clean heart-rate reading of a patient (in the given order) is
    replaced when ``(k + phase) % every < run``, ``phase`` from the patient id's digits so the
    runs of different patients are spread over time. With the default policy (2 of 3 abnormal
    raise, 3 normal in a row resolve) each run raises a ``hard_limit`` alert (HR >= 131 /min)
    and the next normal readings resolve it. Returns the readings and how many were replaced.
    """
    seen: dict[str, int] = {}
    out: list[Reading] = []
    injected = 0
    for r in readings:
        if r.metric is Metric.HEART_RATE and not r.quality:
            k = seen.get(r.patient_id, 0)
            seen[r.patient_id] = k + 1
            digits = "".join(c for c in r.patient_id if c.isdigit())
            phase = int(digits or "0") * 7 % every
            if (k + phase) % every < run:
                r = r.model_copy(update={"value": value})
                injected += 1
        out.append(r)
    return out, injected


@dataclass(slots=True)
class AlertLatencies:
    """Alert records matched to the readings that triggered them (see :func:`match_alert_latencies`)."""

    latencies_ms: list[int] = field(default_factory=list)
    unmatched: int = 0  # alerts of no produced reading: tick-driven (data gap), or of other readings
    duplicates: int = 0  # repeated (alert_id, status, time): at-least-once replays
    ambiguous: int = 0  # several candidate readings; the latest that arrived before the alert was used


def _event_us(t: datetime) -> int:
    return round(t.timestamp() * 1_000_000)


def match_alert_latencies(
    readings: Iterable[Reading],
    arrived_ms: Mapping[str, int],
    alerts: Iterable[tuple[Mapping[str, Any], int]],
) -> AlertLatencies:
    """Latency (ms) of each alert record from the arrival of the reading that triggered it.

    ``readings``: the produced readings; ``arrived_ms``: reading id -> its readings-topic
    record timestamp (readings without one are ignored); ``alerts``: (alert record as a dict,
    ``AlertEvent.to_dict()`` format, its alerts-topic record timestamp in ms).

    An alert's ``time`` is the event time of the reading that caused it, so it matches the
    readings of the same ``patient_id`` and event time (to the microsecond), narrowed to the
    alert's ``metric`` when one of them has it. Of several candidates the latest one that
    arrived no later than the alert is used (the smallest latency consistent with causality;
    counted as ``ambiguous``). Repeats of an ``(alert_id, status, time)`` count once.

    >>> from datetime import UTC
    >>> from ingest.reading import make_reading
    >>> t = datetime(2025, 1, 6, 8, 0, tzinfo=UTC)
    >>> r = make_reading(patient_id="p1", device_id="w1", metric="heart_rate", value=150, time=t)
    >>> a = {"alert_id": "al-1", "status": "raised", "patient_id": "p1", "metric": "heart_rate",
    ...      "time": "2025-01-06T08:00:00Z"}
    >>> match_alert_latencies([r], {r.reading_id: 1_000}, [(a, 1_250), (a, 1_900)]).latencies_ms
    [250]
    """
    index: dict[tuple[str, int], list[tuple[str | None, int]]] = {}
    for r in readings:
        ts = arrived_ms.get(r.reading_id)
        if ts is not None:
            index.setdefault((r.patient_id, _event_us(r.time)), []).append((str(r.metric), ts))
    out = AlertLatencies()
    seen: set[tuple[Any, Any, Any]] = set()
    for alert, alert_ms in alerts:
        key = (alert.get("alert_id"), alert.get("status"), alert.get("time"))
        if key in seen:
            out.duplicates += 1
            continue
        seen.add(key)
        when = alert.get("time")
        candidates = (
            index.get(
                (str(alert.get("patient_id")), _event_us(datetime.fromisoformat(when.replace("Z", "+00:00"))))
            )
            if isinstance(when, str)
            else None
        )
        if not candidates:
            out.unmatched += 1
            continue
        same_metric = [c for c in candidates if c[0] == alert.get("metric")]
        arrivals = [ts for _, ts in (same_metric or candidates)]
        if len(arrivals) > 1:
            out.ambiguous += 1
            before = [ts for ts in arrivals if ts <= alert_ms]
            arrived = max(before) if before else min(arrivals)
        else:
            arrived = arrivals[0]
        out.latencies_ms.append(alert_ms - arrived)
    return out


def _influx(settings: Settings, q: str) -> dict[str, Any]:
    response = httpx.post(
        f"{settings.influx.url}/query",
        params={"db": settings.influx.bucket},
        data={"q": q},
        timeout=30,
        headers={"Authorization": f"Token {settings.influx.token.get_secret_value()}"},
    )
    response.raise_for_status()
    return response.json()  # type: ignore[no-any-return]


def _wait_for_points(settings: Settings, n: int, timeout_s: float, give_up: threading.Event) -> int:
    """Wall-clock ms when InfluxDB holds ``n`` reading points (polled every 100 ms)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not give_up.is_set():
        series = _influx(settings, 'SELECT count("value") FROM "reading"')["results"][0].get("series")
        if series and series[0]["values"][0][1] >= n:
            return round(time.time() * 1000)
        time.sleep(0.1)  # polling InfluxDB, not waiting for a result
    raise RuntimeError(f"InfluxDB did not get {n} reading points in {timeout_s} s")


def _wait_for_records(
    settings: Settings, topic: str, n: int, timeout_s: float, on_poll: Callable[[int], None] | None = None
) -> bool:
    """Whether ``topic`` holds ``n`` records within ``timeout_s`` (its end offsets, polled every 100 ms:
    a cheap request, unlike reading the records while the worker writes them); ``on_poll`` gets the
    count each time."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka.bootstrap_list, group_id=None, **settings.kafka.kafka_python_config()
    )
    try:
        tps = [TopicPartition(topic, p) for p in range(settings.topics.partitions)]
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            count = sum(consumer.end_offsets(tps).values())
            if on_poll is not None:
                on_poll(count)
            if count >= n:
                return True
            time.sleep(0.1)  # polling the broker, not waiting for a result
        return False
    finally:
        consumer.close()


def _produce(
    settings: Settings, records: list[tuple[bytes, bytes]], rate: float = 0.0, topic: str | None = None
) -> None:
    """Send ``records`` to ``topic`` (default: the readings topic), at ``rate`` records/s if given."""
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
        producer.send(topic or settings.topics.readings, key=key, value=value)
    producer.flush(120)
    producer.close()


def _topic_reader(settings: Settings, topic: str, idle_ms: int) -> Any:
    """A group-less consumer of ``topic`` from the start that stops after ``idle_ms`` without a record."""
    from kafka import KafkaConsumer

    return KafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka.bootstrap_list,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=idle_ms,
        **settings.kafka.kafka_python_config(),
    )


def _read_timestamps(settings: Settings, topic: str, n: int, timeout_s: float) -> dict[str, int]:
    """reading id -> record timestamp (ms) for the first ``n`` records of ``topic`` (readings or scores)."""
    consumer = _topic_reader(settings, topic, 1000)
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


def _read_records(settings: Settings, topic: str, timeout_s: float) -> list[tuple[dict[str, Any], int]]:
    """Every record of ``topic`` now (decoded, record timestamp in ms), read until 2 s without a record."""
    consumer = _topic_reader(settings, topic, 2000)
    out: list[tuple[dict[str, Any], int]] = []
    deadline = time.monotonic() + timeout_s
    for rec in consumer:
        out.append((orjson.loads(rec.value), rec.timestamp))
        if time.monotonic() > deadline:
            break
    consumer.close()
    return out


def _percentiles(prefix: str, values: Sequence[float]) -> dict[str, Any]:
    a = np.asarray(values, dtype=float)
    return {
        f"{prefix}_samples": int(a.size),
        f"{prefix}_p50_ms": float(np.percentile(a, 50)) if a.size else None,
        f"{prefix}_p99_ms": float(np.percentile(a, 99)) if a.size else None,
    }


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


def _faust_floor(settings: Settings, n: int, timeout_s: float = 300.0) -> dict[str, float]:
    """What :mod:`streams.floor` measures over the readings topic (a child process, the worker's settings)."""
    from streams.worker import worker_environment

    done = subprocess.run(
        [sys.executable, "-m", "streams.floor", str(n)],
        env=child_environment(worker_environment(settings)),
        capture_output=True,
        timeout=timeout_s,
        check=False,
    )
    marker = '{"floor_readings_per_s"'  # the line may start with the worker's terminal codes
    lines = [line[line.index(marker) :] for line in done.stdout.decode().splitlines() if marker in line]
    if not lines:
        tail = done.stderr.decode(errors="replace")[-2000:]
        raise RuntimeError(f"the Faust floor printed no result (exit {done.returncode}): {tail}")
    return orjson.loads(lines[-1])  # type: ignore[no-any-return]


def steady_states(settings: Settings, *, patients: int = 20, days: float = 28.0, seed: int = 1) -> list[Any]:
    """The ``PatientState`` of each of ``patients`` simulated patients after ``days`` of readings.

    A state grows with what it has seen until its windows are full (four weeks is past every one of
    them: the quality monitor forgets a silent stream after 7 days), so these are steady states, not
    the states after a short run.
    """
    from detectors.cohort import CohortMonitor
    from detectors.monitor import PatientMonitor
    from vigil.tuning import monitor_config

    cohort = CohortMonitor(PatientMonitor(monitor_config(settings)))
    for r in simulate_readings(CohortConfig(patients=patients, days=days, seed=seed)):
        cohort.process(r)
    return list(cohort.states.values())


def state_footprint(states: Sequence[Any]) -> dict[str, float]:
    """Mean bytes of a state: stored (the table's value) and decoded (the Python heap an object
    rebuilt from them takes: what the worker's cache of decoded states holds besides the bytes)."""
    import gc
    import tracemalloc

    from detectors.monitor import PatientState

    stored = [st.to_bytes() for st in states] * max(1, 500 // len(states))
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        decoded = [PatientState.from_bytes(data) for data in stored]
        heap = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    return {
        "state_bytes_per_patient": float(np.mean([len(data) for data in stored])),
        "decoded_state_bytes_per_patient": heap / len(decoded),
    }


def recovery_times(settings: Settings, name: str, states: Sequence[Any], patients: int) -> dict[str, float]:
    """Seconds from a worker's start to ``/health/ready`` with ``patients`` states in its table (copies of
    ``states`` under other patient ids, written to the table's changelog): with a fresh store, which
    replays the whole changelog — what a worker that takes over another's partitions does — and then
    again with the store it kept (a restart). Runs under its own app id ``<name>-rec``."""
    from kafka.admin import NewTopic

    from streams.topology import STATE_TABLE
    from streams.worker import free_port, start_worker_process

    rec = bench_settings(settings, f"{name}-rec")
    rec = rec.model_copy(update={"influx": settings.influx.model_copy(update={"bucket": name})})
    changelog = f"{rec.worker.app_id}-{STATE_TABLE}-changelog"
    admin = _admin(rec)
    try:
        admin.create_topics(
            [NewTopic(changelog, rec.topics.partitions, 1, topic_configs={"cleanup.policy": "compact"})]
        )
    finally:
        admin.close()
    records = []
    for i in range(patients):
        d = states[i % len(states)].to_dict()
        d["p"] = pid = f"rec-{i:07d}"
        records.append((pid.encode(), orjson.dumps(d)))
    _produce(rec, records, topic=changelog)

    def time_to_ready() -> float:
        port = free_port()
        start = time.perf_counter()
        proc = start_worker_process(rec, "rec-1", BENCH_DIR / f"{name}-rec.log", web_port=port)
        try:
            deadline = start + 300
            while time.perf_counter() < deadline:
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=1).status_code == 200:
                        return time.perf_counter() - start
                time.sleep(0.1)  # polling the worker's readiness
            raise RuntimeError(f"the recovering worker was not ready in 300 s (log: {BENCH_DIR})")
        finally:
            proc.terminate()
            proc.wait(60)

    try:
        fresh = time_to_ready()
        kept = time_to_ready()
    finally:
        shutil.rmtree(BENCH_DIR / rec.worker.app_id, ignore_errors=True)
    return {
        "recovery_state_mb": sum(len(v) for _, v in records) / 2**20,
        "recovery_ready_s": fresh,
        "restart_ready_s": kept,
    }


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system, all threads) process ``pid`` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """A process's CPU seconds from the last poll that saw no output (its start-up done) to the call of
    :meth:`done` (or from the first poll with output, if none saw none)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.first: tuple[int, float] | None = None  # (outputs seen, CPU s) where the measurement starts
        self.last: tuple[int, float] | None = None
        self._output_seen = False

    def poll(self, outputs: int) -> None:
        if self._output_seen:
            return
        if outputs == 0 or self.first is None:
            self.first = (outputs, _cpu_s(self.pid))
        self._output_seen = outputs > 0

    def done(self, outputs: int) -> None:
        self.last = (outputs, _cpu_s(self.pid))

    def us_per_output(self) -> float:
        """CPU µs per output between the two points (nan if not measured)."""
        if self.first is None or self.last is None or self.last[0] <= self.first[0]:
            return float("nan")
        return (self.last[1] - self.first[1]) / (self.last[0] - self.first[0]) * 1e6


def rss_mb(pid: int) -> float:
    """Resident memory of process ``pid`` (MiB)."""
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
    latency_workers: int = 1,
    state_patients: int = 10_000,
    state_days: float = 28.0,
    recovery_patients: int = 10_000,
) -> dict[str, Any]:
    """Run the benchmark (see module docstring) and return its numbers."""
    from ingest.topics import ensure_topics
    from streams.worker import free_port, start_worker_process

    name = f"bench-{uuid.uuid4().hex[:8]}"
    s = bench_settings(settings, name)
    ensure_topics(s)
    _stamp_on_arrival(s, [s.topics.readings, s.topics.scores, s.topics.alerts])
    _influx(s, f'CREATE DATABASE "{name}"')
    n_warm = rate if rate and latency_workers > 1 else 0
    n_extra = int(rate * latency_seconds) if rate else 0
    everything = cohort_readings(readings + n_warm + n_extra, patients)
    data, warm, tail = (
        everything[:readings],
        everything[readings : readings + n_warm],
        everything[readings + n_warm :],
    )
    _produce(s, [(r.patient_id.encode(), r.to_json()) for r in data])
    procs = [start_worker_process(s, "bench-1", BENCH_DIR / f"{name}.log", web_port=free_port())]
    finished = False
    try:
        give_up = threading.Event()
        cpu = CpuMeter(procs[0].pid)
        with ThreadPoolExecutor(1) as pool:  # notes when InfluxDB has them all, while the scores come
            stored = pool.submit(_wait_for_points, s, readings, 300, give_up)
            if not _wait_for_records(s, s.topics.scores, readings, timeout_s=300, on_poll=cpu.poll):
                give_up.set()
                raise RuntimeError(f"worker did not score {readings} readings (log: {BENCH_DIR})")
            stored_ms = stored.result()
            cpu.done(readings)
        # read once the worker is done: a reader running alongside took a core from it
        scores = _read_timestamps(s, s.topics.scores, readings, timeout_s=300)
        ts = sorted(scores.values())
        worker_rate = (len(ts) - 1) / max((max(ts[-1], stored_ms) - ts[0]) / 1000.0, 1e-3)
        bare_rate = asyncio.run(_bare_loop(s, readings))
        floor = _faust_floor(s, readings)
        result: dict[str, Any] = {
            "readings": readings,
            "patients": patients,
            "partitions": s.topics.partitions,
            "batch_size": s.worker.batch_size,
            "fetch_max_wait_ms": s.worker.fetch_max_wait_ms,
            "worker_readings_per_s": round(worker_rate, 1),
            "bare_aiokafka_decode_readings_per_s": round(bare_rate, 1),
            "ratio": round(worker_rate / bare_rate, 3),
            "worker_cpu_us_per_reading": round(cpu.us_per_output(), 1),
            "faust_floor_readings_per_s": floor["floor_readings_per_s"],
            "faust_floor_cpu_us_per_reading": floor["floor_cpu_us_per_reading"],
            "faust_floor_ratio": round(floor["floor_readings_per_s"] / bare_rate, 3),
        }
        if rate:
            if warm:
                for k in range(2, latency_workers + 1):
                    procs.append(
                        start_worker_process(
                            s, f"bench-{k}", BENCH_DIR / f"{name}-{k}.log", web_port=free_port()
                        )
                    )
                _wait_for_group(s, latency_workers, timeout_s=120)
                _produce(s, [(r.patient_id.encode(), r.to_json()) for r in warm], rate=rate)
                if len(_read_timestamps(s, s.topics.scores, readings + len(warm), 300)) < readings + len(
                    warm
                ):
                    raise RuntimeError(
                        f"{latency_workers} workers did not score the warm-up (log: {BENCH_DIR})"
                    )
            extra = [r.model_copy(update={"reading_id": f"lat-{i:09d}"}) for i, r in enumerate(tail)]
            extra, injected = inject_hard_limit_runs(extra)
            records = [(r.patient_id.encode(), r.to_json()) for r in extra]
            cpu_before, produced_from = sum(_cpu_s(p.pid) for p in procs), time.time()
            _produce(s, records, rate=rate)
            total = readings + len(warm) + len(extra)
            scored = _read_timestamps(s, s.topics.scores, total, 300)
            cpu_s = sum(_cpu_s(p.pid) for p in procs) - cpu_before  # and the little they idled since
            busy_s = max(scored.values()) / 1000 - produced_from  # to the last score's broker time
            arrived = _read_timestamps(s, s.topics.readings, total, 120)
            lat = [scored[k] - arrived[k] for k in scored if k.startswith("lat-") and k in arrived]
            # a batch's alerts are sent with its scores (one awaited delivery); read to 2 s of quiet
            alerts = match_alert_latencies(extra, arrived, _read_records(s, s.topics.alerts, 120))
            result.update(
                {
                    "latency_rate_per_s": rate,
                    "latency_workers": latency_workers,
                    "latency_readings": len(extra),
                    "latency_injected_hard_limit_readings": injected,
                    "latency_worker_cpu_us_per_reading": round(cpu_s / len(extra) * 1e6, 1),
                    "latency_worker_cores": round(cpu_s / busy_s, 2),
                    **_percentiles("latency", lat),
                    **_percentiles("alert_latency", alerts.latencies_ms),
                    "alert_records_unmatched": alerts.unmatched,
                    "alert_records_ambiguous": alerts.ambiguous,
                }
            )
        result["worker_rss_mb"] = round(rss_mb(procs[0].pid), 1)
        states = steady_states(s, days=state_days)
        footprint = state_footprint(states)
        state_bytes, decoded = (
            footprint["state_bytes_per_patient"],
            footprint["decoded_state_bytes_per_patient"],
        )
        result.update(
            {
                "state_days": state_days,
                "state_bytes_per_patient": round(state_bytes, 1),
                f"state_mb_per_{state_patients}_patients": round(state_bytes * state_patients / 2**20, 2),
                "decoded_state_kib_per_patient": round(decoded / 2**10, 1),
                # the worker's cache keeps a state's bytes beside the decoded object
                f"state_cache_mb_per_{state_patients}_patients": round(
                    (decoded + state_bytes) * state_patients / 2**20, 1
                ),
            }
        )
        if recovery_patients:
            for proc in procs:
                proc.terminate()  # the recovering worker has the machine's cores to itself
            for proc in procs:
                proc.wait(30)
            rec = recovery_times(s, name, states, recovery_patients)
            result.update(
                {
                    "recovery_patients": recovery_patients,
                    "recovery_state_mb": round(rec["recovery_state_mb"], 1),
                    "recovery_ready_s": round(rec["recovery_ready_s"], 2),
                    "restart_ready_s": round(rec["restart_ready_s"], 2),
                }
            )
        finished = True
        return result
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(30)
        _influx(s, f'DROP DATABASE "{name}"')
        _delete_topics(s, name)
        shutil.rmtree(BENCH_DIR / name, ignore_errors=True)  # the workers' RocksDB stores
        if finished:  # a failed run's logs stay for a look
            for log in BENCH_DIR.glob(f"{name}*.log"):
                log.unlink()


def _admin(settings: Settings) -> Any:
    """A kafka-python admin client for the bench's topics and group."""
    from kafka import KafkaAdminClient

    return KafkaAdminClient(
        bootstrap_servers=settings.kafka.bootstrap_list, **settings.kafka.kafka_python_config()
    )


def _stamp_on_arrival(settings: Settings, topics: Sequence[str]) -> None:
    """Make the broker set each record's timestamp when it appends it (``LogAppendTime``)."""
    from kafka.admin import ConfigResource, ConfigResourceType

    admin = _admin(settings)
    try:
        # not incremental: the topics' other settings go back to the broker defaults (none are set on these)
        stamp = {"message.timestamp.type": "LogAppendTime"}
        admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, t, configs=stamp) for t in topics])
    finally:
        admin.close()


def _wait_for_group(settings: Settings, members: int, timeout_s: float) -> None:
    """Until the workers' consumer group (the app id) is stable with ``members`` members."""
    admin = _admin(settings)
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            group = admin.describe_groups([settings.worker.app_id])[settings.worker.app_id]
            if group["group_state"] == "Stable" and len(group["members"]) == members:
                return
            time.sleep(0.2)  # polling the broker for the group's state
    finally:
        admin.close()
    raise RuntimeError(f"the consumer group did not reach {members} members (log: {BENCH_DIR})")


def _delete_topics(settings: Settings, prefix: str) -> None:
    admin = _admin(settings)
    try:
        doomed = [t for t in admin.list_topics() if t.startswith(prefix)]
        if doomed:
            admin.delete_topics(doomed)
    finally:
        admin.close()
