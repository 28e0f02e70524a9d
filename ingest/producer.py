"""Readings, dead letters, acknowledgements and patient profiles to Kafka, acknowledged once Kafka has them.

:class:`KafkaSink` wraps a kafka-python ``KafkaProducer`` with ``acks="all"``,
idempotence, compression (lz4 when the ``lz4`` package is installed, else gzip),
and linger/batching. Keys are the patient id (so one patient's readings stay in
order on one partition); values are ``Reading.to_json()``.

:meth:`KafkaSink.submit` calls back once every record of a batch is acknowledged
(or the first one failed); :meth:`KafkaSink.send_readings` blocks on that and raises
:class:`ProduceError`, which the gateway answers with 503 so the device retries.
:class:`MemorySink` is the same interface in memory (unit tests, ``--no-kafka`` benchmarks).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import orjson

from ingest.deadletter import DeadLetter
from ingest.episodes import PatientProfile
from ingest.reading import Reading
from vigil.settings import Settings

log = logging.getLogger(__name__)

Done = Callable[[BaseException | None], None]
"""Completion callback: ``None`` on success, else the first error."""
ACTOR_HEADER = "vigil-actor"
"""Record header naming who published a profile (a clinician id, or e.g. ``bulk-load``), for the audit."""


class ProduceError(RuntimeError):
    """Kafka did not acknowledge a record (unreachable, timed out, or refused)."""


class Sink(Protocol):
    """Where ingest puts what it accepted and rejected."""

    def submit(
        self, readings: Sequence[Reading], dead_letters: Sequence[DeadLetter], on_done: Done
    ) -> None: ...

    def send_ack(self, ack: dict[str, Any]) -> None: ...

    def send_profiles(self, profiles: Sequence[PatientProfile], actor: str) -> None: ...

    def ready(self) -> bool: ...

    def close(self) -> None: ...


class _Countdown:
    """Calls ``on_done`` once: after ``n`` successes, or at the first failure."""

    __slots__ = ("_left", "_lock", "_on_done")

    def __init__(self, n: int, on_done: Done) -> None:
        self._lock = threading.Lock()
        self._left = n
        self._on_done: Done | None = on_done
        if n == 0:
            self._finish(None)

    def ok(self, _metadata: Any = None) -> None:
        with self._lock:
            self._left -= 1
            finished = self._left == 0
        if finished:
            self._finish(None)

    def fail(self, exc: BaseException) -> None:
        self._finish(exc)

    def _finish(self, exc: BaseException | None) -> None:
        with self._lock:
            callback, self._on_done = self._on_done, None
        if callback is not None:
            callback(exc)


def wait_for(submit: Callable[[Done], None], timeout_s: float) -> None:
    """Run ``submit(on_done)`` and block until it completes; raise :class:`ProduceError` on failure."""
    event = threading.Event()
    errors: list[BaseException | None] = []

    def done(exc: BaseException | None) -> None:
        errors.append(exc)
        event.set()

    submit(done)
    if not event.wait(timeout_s):
        raise ProduceError(f"Kafka did not acknowledge within {timeout_s:g} s")
    if errors[0] is not None:
        raise ProduceError(f"Kafka refused the records: {errors[0]}") from errors[0]


def compression_type() -> str:
    """lz4 when kafka-python can use it (the ``lz4`` package is installed), else gzip (stdlib)."""
    from kafka.codec import has_lz4

    return "lz4" if has_lz4() else "gzip"


def producer_config(settings: Settings) -> dict[str, Any]:
    """kafka-python ``KafkaProducer`` options for durable, idempotent, batched delivery."""
    return {
        "bootstrap_servers": settings.kafka.bootstrap_list,
        "client_id": f"{settings.kafka.client_id}-ingest",
        "acks": "all",
        "enable_idempotence": True,
        "compression_type": compression_type(),
        "linger_ms": 5,
        "batch_size": 256 * 1024,
        "max_request_size": 4 * 1024 * 1024,
        "max_block_ms": 5_000,
        "bootstrap_timeout_ms": 5_000,
        "request_timeout_ms": 10_000,
        "delivery_timeout_ms": 30_000,
        **settings.kafka.kafka_python_config(),
    }


class KafkaSink:
    """The Kafka producer for ingest (thread-safe; one per process)."""

    def __init__(self, settings: Settings, *, timeout_s: float = 35.0) -> None:
        self.settings = settings
        self.timeout_s = timeout_s
        self._producer: Any = None
        self._lock = threading.Lock()
        self._last_success = 0.0

    def _kafka(self) -> Any:
        if self._producer is None:
            from kafka import KafkaProducer
            from kafka.errors import KafkaError

            with self._lock:
                if self._producer is None:
                    try:
                        self._producer = KafkaProducer(**producer_config(self.settings))
                    except KafkaError as exc:
                        raise ProduceError(
                            f"Kafka is unreachable at {self.settings.kafka.bootstrap_servers}: {exc}"
                        ) from exc
        return self._producer

    def submit(self, readings: Sequence[Reading], dead_letters: Sequence[DeadLetter], on_done: Done) -> None:
        """Send readings (to ``topics.readings``) and dead letters; ``on_done`` once all are acknowledged."""
        topics = self.settings.topics
        records: list[tuple[str, bytes | None, bytes]] = [
            (topics.readings, r.patient_id.encode(), r.to_json()) for r in readings
        ]
        records += [
            (topics.dead_letter, d.device_id.encode() if d.device_id else None, d.to_json())
            for d in dead_letters
        ]
        self._send(records, on_done)

    def _send(
        self,
        records: list[tuple[str, bytes | None, bytes]],
        on_done: Done,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> None:
        from kafka.errors import KafkaError

        countdown = _Countdown(len(records), self._tracked(on_done))
        try:
            producer = self._kafka()
            for topic, key, value in records:
                sent = producer.send(topic, key=key, value=value, headers=headers)
                sent.add_callback(countdown.ok).add_errback(countdown.fail)
        except (KafkaError, ProduceError) as exc:
            countdown.fail(exc)

    def _tracked(self, on_done: Done) -> Done:
        def done(exc: BaseException | None) -> None:
            if exc is None:
                self._last_success = time.monotonic()
            else:
                log.warning("kafka delivery failed: %s", type(exc).__name__)
            on_done(exc)

        return done

    def send_readings(self, readings: Sequence[Reading], dead_letters: Sequence[DeadLetter] = ()) -> None:
        """Send and wait until Kafka acknowledged every record; raises :class:`ProduceError`."""
        wait_for(lambda done: self.submit(readings, dead_letters, done), self.timeout_s)

    def send_dead_letter(self, letter: DeadLetter) -> None:
        """Send one dead letter (key = device id) and wait for Kafka."""
        self.send_readings((), (letter,))

    def send_ack(self, ack: dict[str, Any]) -> None:
        """Send an acknowledgement record to ``topics.acks`` keyed by patient id, and wait for Kafka."""
        record = (self.settings.topics.acks, str(ack["patient_id"]).encode(), orjson.dumps(ack))
        wait_for(lambda done: self._send([record], done), self.timeout_s)

    def send_profiles(self, profiles: Sequence[PatientProfile], actor: str) -> None:
        """Send profiles to ``topics.profiles`` (compacted, keyed by patient id) and wait for Kafka.

        ``actor`` (who set them) travels in the :data:`ACTOR_HEADER` header; the worker audits it.
        """
        topic = self.settings.topics.profiles
        records: list[tuple[str, bytes | None, bytes]] = [
            (topic, p.patient_id.encode(), p.model_dump_json().encode()) for p in profiles
        ]
        headers = [(ACTOR_HEADER, actor.encode())]
        if records:
            wait_for(lambda done: self._send(records, done, headers), self.timeout_s)

    def ready(self) -> bool:
        """True when Kafka delivered in the last minute, or a bootstrap server accepts a connection and the
        producer has metadata for the readings topic."""
        if time.monotonic() - self._last_success < 60.0:
            return True
        from kafka.errors import KafkaError

        if not any(_reachable(server) for server in self.settings.kafka.bootstrap_list):
            return False
        try:
            return self._kafka().partitions_for(self.settings.topics.readings) is not None
        except (KafkaError, ProduceError):
            return False

    def flush(self, timeout_s: float | None = None) -> None:
        if self._producer is not None:
            self._producer.flush(timeout=timeout_s)

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close(timeout=10)
            self._producer = None


def _reachable(server: str, timeout_s: float = 2.0) -> bool:
    host, _, port = server.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
            return True
    except (OSError, ValueError):
        return False


class MemorySink:
    """The :class:`Sink` interface kept in memory; ``fail`` makes every submit fail like a Kafka outage.

    With ``keep=False`` records are only counted (``count``), for benchmarks without Kafka.
    """

    def __init__(self, *, keep: bool = True) -> None:
        self.keep = keep
        self.count = 0
        self.readings: list[Reading] = []
        self.dead_letters: list[DeadLetter] = []
        self.acks: list[dict[str, Any]] = []
        self.profiles: list[PatientProfile] = []
        self.profile_actors: list[str] = []
        self.fail: BaseException | None = None
        self._lock = threading.Lock()

    def submit(self, readings: Sequence[Reading], dead_letters: Sequence[DeadLetter], on_done: Done) -> None:
        if self.fail is None:
            with self._lock:
                self.count += len(readings) + len(dead_letters)
                if self.keep:
                    self.readings.extend(readings)
                    self.dead_letters.extend(dead_letters)
        on_done(self.fail)

    def send_readings(self, readings: Sequence[Reading], dead_letters: Sequence[DeadLetter] = ()) -> None:
        wait_for(lambda done: self.submit(readings, dead_letters, done), 1.0)

    def send_ack(self, ack: dict[str, Any]) -> None:
        if self.fail is not None:
            raise ProduceError(str(self.fail))
        self.acks.append(ack)

    def send_profiles(self, profiles: Sequence[PatientProfile], actor: str) -> None:
        if self.fail is not None:
            raise ProduceError(str(self.fail))
        self.profiles.extend(profiles)
        self.profile_actors.extend(actor for _ in profiles)

    def ready(self) -> bool:
        return self.fail is None

    def close(self) -> None:
        pass
