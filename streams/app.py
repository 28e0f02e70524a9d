"""The Faust application, built from :class:`vigil.settings.Settings`.

``vigil worker`` calls :func:`create_app`; ``faust -A streams.app worker`` uses the
module attribute ``app``, built lazily from ``load_settings()`` on first access.

>>> from vigil.settings import Settings
>>> a = create_app(Settings(worker={"store": "memory", "app_id": "doc"}), worker_id="w1")
>>> a.conf.id, str(a.conf.store), a.conf.topic_partitions
('doc', 'memory:', 6)
>>> sorted(a.agents)
['acknowledge', 'detect', 'profile', 'validate']
"""

from __future__ import annotations

import os
import socket
import ssl
from pathlib import Path
from time import monotonic
from typing import Any

import faust
from faust.sensors import Monitor

from vigil.runtime import tune_gc
from vigil.settings import KafkaSettings, Settings, WorkerSettings, load_settings


def default_worker_id() -> str:
    """Host name and process id: unique per worker process."""
    return f"{socket.gethostname()}-{os.getpid()}"


def ssl_context(kafka: KafkaSettings) -> ssl.SSLContext | None:
    """The TLS context for ``SSL``/``SASL_SSL`` (None otherwise)."""
    if kafka.security_protocol not in ("SSL", "SASL_SSL"):
        return None
    context = ssl.create_default_context(cafile=str(kafka.ssl_cafile) if kafka.ssl_cafile else None)
    if kafka.ssl_certfile:
        context.load_cert_chain(
            str(kafka.ssl_certfile), str(kafka.ssl_keyfile) if kafka.ssl_keyfile else None
        )
    return context


def broker_credentials(kafka: KafkaSettings) -> Any:
    """Faust credentials for SASL or SSL (None for PLAINTEXT)."""
    context = ssl_context(kafka)
    if kafka.security_protocol.startswith("SASL"):
        password = kafka.sasl_password.get_secret_value() if kafka.sasl_password else ""
        return faust.SASLCredentials(
            username=kafka.sasl_username,
            password=password,
            mechanism=kafka.sasl_mechanism,
            ssl_context=context,
        )
    return faust.SSLCredentials(context) if context else None


class App(faust.App):
    """``faust.App`` that makes each event without a settings lookup (Faust reads the ``Event`` class
    from its settings object for every message: ~3 % of an agent that does nothing else), and tunes the
    garbage collector for its hot loop when it first starts (:func:`vigil.runtime.tune_gc`), whether
    run by ``vigil worker`` or by ``faust -A streams.app worker``."""

    async def on_first_start(self) -> None:
        await super().on_first_start()
        tune_gc()

    def create_event(self, key: Any, value: Any, headers: Any, message: Any) -> faust.EventT:
        return faust.Event(self, key, value, headers, message)


class LeanMonitor(Monitor):
    """Faust's ``Monitor`` sensor keeping, per event, only what Faust itself reads back: when each
    partition last delivered an event (the consumer's "stream is slow" check). Its per-stream and
    per-message statistics feed Faust's web statistics, which the worker does not serve, and cost ~6 %
    of an agent that does nothing else (Vigil's own metrics are :mod:`streams.metrics`)."""

    def on_message_in(self, tp: Any, offset: int, message: Any) -> None:
        return None

    def on_stream_event_in(self, tp: Any, offset: int, stream: Any, event: Any) -> dict[str, Any] | None:
        self.stream_inbound_time[tp] = monotonic()
        return None

    def on_stream_event_out(
        self, tp: Any, offset: int, stream: Any, event: Any, state: dict[str, Any] | None = None
    ) -> None:
        return None

    def on_message_out(self, tp: Any, offset: int, message: Any) -> None:
        return None


def table_options(worker: WorkerSettings) -> dict[str, Any]:
    """RocksDB options of the patient-state table, one database per partition.

    Faust's defaults give each partition's database up to three 64 MiB write buffers and a 2 GiB
    block cache: a worker with six partitions under steady checkpoints grew by ~400 MB of write
    buffers alone (docs/streams.md, "Memory"). The detect stage keeps the states it uses decoded,
    so RocksDB is read mostly after a restart or a rebalance and a small cache is enough.
    """
    return {
        "write_buffer_size": worker.rocksdb_write_buffer_mb * 2**20,
        "max_write_buffer_number": 2,
        "block_cache_size": worker.rocksdb_block_cache_mb * 2**20,
    }


def app_options(settings: Settings, datadir: Path) -> dict[str, Any]:
    """The :class:`App` options of a Vigil worker (its transport, producer, web and consumer tuning)."""
    w = settings.worker
    return dict(
        broker=[f"vigil://{b}" for b in settings.kafka.bootstrap_list],  # streams.transport
        broker_credentials=broker_credentials(settings.kafka),
        store="rocksdb://" if w.store == "rocksdb" else "memory://",
        datadir=str(datadir),
        topic_partitions=settings.topics.partitions,
        topic_replication_factor=settings.topics.replication_factor,
        key_serializer="raw",
        value_serializer="raw",
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        # a batch's outputs (scores, alerts, changelog) go out in few large requests
        producer_linger_ms=5,
        producer_max_batch_size=1024 * 1024,
        producer_max_request_size=4 * 1024 * 1024,
        # the health endpoints only (streams.health): no table or router views (patient state)
        web_enabled=True,
        web_port=w.web_port,
        web_bind=w.web_host,
        web_tables_enabled=False,
        web_router_enabled=False,
        web_stats_enabled=False,
        web_graph_enabled=False,
        autodiscover=False,
        stream_buffer_maxsize=max(4096, 4 * w.batch_size),
        # a killed worker's partitions move to the others within ~10 s (Faust's default is 60 s)
        broker_session_timeout=10.0,
        broker_heartbeat_interval=1.0,
        Monitor=LeanMonitor,
    )


def create_app(settings: Settings, *, worker_id: str | None = None, **topology_options: Any) -> faust.App:
    """A Faust app with Vigil's topics, table and agents declared (see :mod:`streams.topology`)."""
    from streams.topology import Topology

    wid = worker_id or default_worker_id()
    w = settings.worker
    datadir = w.data_dir / w.app_id / wid
    datadir.parent.mkdir(parents=True, exist_ok=True)
    app = App(w.app_id, **app_options(settings, datadir))
    app.vigil = Topology(app, settings, wid, **topology_options)  # type: ignore[attr-defined]
    return app


_app: faust.App | None = None


def __getattr__(name: str) -> Any:
    """``streams.app.app``: the app from ``load_settings()``, built on first access."""
    global _app
    if name == "app":
        if _app is None:
            _app = create_app(load_settings())
        return _app
    raise AttributeError(name)
