"""The one settings object for all of Vigil.

Every value comes from (highest priority first) keyword arguments, ``VIGIL_*``
environment variables (nested with ``__``, e.g. ``VIGIL_KAFKA__BOOTSTRAP_SERVERS``),
an optional env file (``VIGIL_ENV_FILE``, default ``.env``), and secret files in
``VIGIL_SECRETS_DIR`` (default ``/run/secrets``), then the defaults below, which
suit the local services started by ``scripts/services.sh``.

Settings are frozen and validated at start-up: a bad value fails fast with the
field's name and the reason.

>>> s = Settings(kafka={"bootstrap_servers": "k1:9092,k2:9092"})
>>> s.kafka.bootstrap_list
['k1:9092', 'k2:9092']
>>> s.topics.readings
'vigil.readings'
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class KafkaSettings(_Section):
    """Kafka connection and security; PLAINTEXT locally, SASL_SSL or SSL in production."""

    bootstrap_servers: str = "127.0.0.1:19092"
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    client_id: str = "vigil"

    @property
    def bootstrap_list(self) -> list[str]:
        return [s.strip() for s in self.bootstrap_servers.split(",") if s.strip()]

    @model_validator(mode="after")
    def _check_security(self) -> KafkaSettings:
        if self.security_protocol.startswith("SASL"):
            missing = [
                n for n in ("sasl_mechanism", "sasl_username", "sasl_password") if getattr(self, n) is None
            ]
            if missing:
                raise ValueError(f"security_protocol {self.security_protocol} needs {', '.join(missing)}")
        return self

    def kafka_python_config(self) -> dict[str, object]:
        """Security options in kafka-python's spelling (also accepted by aiokafka)."""
        cfg: dict[str, object] = {"security_protocol": self.security_protocol}
        if self.sasl_mechanism:
            cfg["sasl_mechanism"] = self.sasl_mechanism
            cfg["sasl_plain_username"] = self.sasl_username
            cfg["sasl_plain_password"] = self.sasl_password.get_secret_value() if self.sasl_password else None
        if self.ssl_cafile:
            cfg["ssl_cafile"] = str(self.ssl_cafile)
        if self.ssl_certfile:
            cfg["ssl_certfile"] = str(self.ssl_certfile)
        if self.ssl_keyfile:
            cfg["ssl_keyfile"] = str(self.ssl_keyfile)
        return cfg


class TopicSettings(_Section):
    """Topic names and layout. All topics keyed by patient share the partition count."""

    raw: str = "vigil.readings.raw"
    readings: str = "vigil.readings"
    scores: str = "vigil.scores"
    alerts: str = "vigil.alerts"
    acks: str = "vigil.alert-acks"
    profiles: str = "vigil.patient-profiles"
    """Latest ``PatientProfile`` per patient (compacted): the SpO2 scale the worker scores NEWS2 on."""
    dead_letter: str = "vigil.dead-letter"
    partitions: int = Field(default=6, ge=1, le=1024)
    replication_factor: int = Field(default=1, ge=1, le=7)


class InfluxSettings(_Section):
    """InfluxDB 2.x API (also served by InfluxDB 1.8 with its 2.x compatibility endpoints)."""

    url: str = "http://127.0.0.1:18086"
    org: str = "vigil"
    bucket: str = "vigil"
    token: SecretStr = SecretStr("vigil:vigil-local-only")
    batch_size: int = Field(default=5000, ge=1, le=100_000)
    flush_interval_ms: int = Field(default=1000, ge=10)
    max_retries: int = Field(default=8, ge=0)
    timeout_ms: int = Field(default=10_000, ge=100)

    @field_validator("url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v.rstrip("/")


class GrafanaSettings(_Section):
    """Grafana HTTP API, for annotations and provisioning."""

    url: str = "http://127.0.0.1:3000"
    token: SecretStr | None = None
    patient_dashboard_uid: str = "vigil-patient"
    ack_base_url: str = "http://127.0.0.1:8080"


class MqttSettings(_Section):
    """MQTT broker used by home hubs."""

    host: str = "127.0.0.1"
    port: int = Field(default=11883, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    tls: bool = False
    topic_filter: str = "vigil/devices/+/readings"
    qos: Literal[0, 1, 2] = 1


class GatewaySettings(_Section):
    """The HTTP ingest gateway."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    max_body_bytes: int = Field(default=5_000_000, ge=1024)
    device_registry: Path | None = None
    clinician_registry: Path | None = None


class DetectorSettings(_Section):
    """Tuning shared by the streaming worker and the embedded demo/replay."""

    news2_freshness_minutes: float = Field(default=240.0, gt=0)
    warmup_readings: int = Field(default=30, ge=0)


class WorkerSettings(_Section):
    """The Faust worker."""

    app_id: str = "vigil"
    data_dir: Path = Path(".cache/faust")
    web_port: int = Field(default=6066, ge=1, le=65535)
    """The worker's health endpoints (``/health/ready``, ``/health/live``: :mod:`streams.health`)."""
    web_host: str = "0.0.0.0"
    """The interface those listen on (all: probes come from outside the container)."""
    store: Literal["rocksdb", "memory"] = "rocksdb"
    batch_size: int = Field(default=5000, ge=1)
    """Most events an agent handles at once. A batch is whatever arrived while the last one was handled
    (:mod:`streams.batching`), so this only matters when the worker is behind: then a larger batch pays
    the per-batch costs (an InfluxDB round trip, one delivery wait, one table write per changed
    patient) over more readings (``vigil bench pipeline``: 500 -> 2,000 -> 5,000 gave ~1.9k -> 6.6k ->
    7.9k/s; 10,000 no more)."""
    fetch_max_wait_ms: int = Field(default=100, ge=0, le=1500)
    """How long the broker may hold a fetch of partitions that have no new records (Faust's own
    consumer uses 1,500 ms, which delays readings by up to that much: :mod:`streams.transport`)."""
    checkpoint_interval_ms: int = Field(default=1000, ge=0, le=60_000)
    """How often the detect agent makes its handled batches durable: the patients' states and the
    offsets they include written to the table, the readings acknowledged so Faust may commit them.
    One is due this long after the last (at once when a rebalance or shutdown begins). A patient's
    state is written once per checkpoint, and batches do not wait for InfluxDB in between (``vigil
    bench pipeline``: alert p99 at 5,000/s ~0.3 s with 1,000 against ~0.6 s with 0). A crash replays
    at most this much. 0: after every batch. See docs/streams.md, "No data lost"."""
    state_cache_patients: int = Field(default=10_000, ge=0)
    """Most patients whose detector state the worker keeps decoded in memory between batches (the least
    recently used beyond are decoded from the table again when their next reading comes, ~60 µs each).
    A cached state takes ~35 KiB after a few weeks of readings (``vigil bench pipeline``:
    ``state_cache_mb_per_10000_patients``), so the default bounds this cache to ~0.35 GiB: set it to
    at least the patients a worker serves when memory allows (docs/streams.md, "Memory")."""
    rocksdb_write_buffer_mb: int = Field(default=16, ge=1, le=1024)
    """Size of each of the (two) RocksDB write buffers of a table partition's database (Faust's default,
    64 MiB x 3, held ~400 MB more in a worker with six partitions under steady writes)."""
    rocksdb_block_cache_mb: int = Field(default=16, ge=1, le=4096)
    """RocksDB block cache of a table partition's database (Faust's default: 2 GiB each). States in use
    stay decoded in the worker (``state_cache_patients``), so RocksDB is read mostly at recovery."""
    heartbeat_after_s: float = Field(default=60.0, ge=0)
    """A readings partition this worker owns that has been silent this long (wall clock) gets a heartbeat
    record, so its event time — and with it data-gap alerts and escalations — moves on while no reading
    comes (:mod:`streams.heartbeats`). 0: none (event time moves only with readings)."""
    stall_after_s: float = Field(default=120.0, ge=0)
    """A worker whose agents have taken nothing for this long from a partition where records wait
    (while no rebalance, recovery or sink outage is under way), or whose event loop has been held this
    long, logs why at ERROR and exits with status 75, for its supervisor to start it again
    (:mod:`streams.health`, :mod:`streams.loopwatch`). 0: never."""


class Settings(BaseSettings):
    """All of Vigil's configuration (see module docstring for the sources)."""

    model_config = SettingsConfigDict(
        env_prefix="VIGIL_",
        env_nested_delimiter="__",
        frozen=True,
        extra="forbid",
        secrets_dir=None,
    )

    environment: Literal["local", "test", "production"] = "local"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    kafka: KafkaSettings = KafkaSettings()
    topics: TopicSettings = TopicSettings()
    influx: InfluxSettings = InfluxSettings()
    grafana: GrafanaSettings = GrafanaSettings()
    mqtt: MqttSettings = MqttSettings()
    gateway: GatewaySettings = GatewaySettings()
    detectors: DetectorSettings = DetectorSettings()
    worker: WorkerSettings = WorkerSettings()

    @model_validator(mode="after")
    def _production_needs_secrets(self) -> Settings:
        if self.environment == "production":
            if self.influx.token.get_secret_value() == InfluxSettings().token.get_secret_value():
                raise ValueError("influx.token: the local default token is not allowed in production")
            if self.kafka.security_protocol == "PLAINTEXT":
                raise ValueError("kafka.security_protocol: PLAINTEXT is not allowed in production")
        return self


def load_settings(**overrides: Any) -> Settings:
    """Build settings from the environment, an optional env file and secret files.

    ``VIGIL_ENV_FILE`` names the env file (default ``.env`` if it exists) and
    ``VIGIL_SECRETS_DIR`` the secrets directory (default ``/run/secrets`` if it exists).
    """
    env_file = os.environ.get("VIGIL_ENV_FILE", ".env")
    secrets_dir = os.environ.get("VIGIL_SECRETS_DIR", "/run/secrets")
    return Settings(
        _env_file=env_file if Path(env_file).is_file() else None,  # type: ignore[call-arg]
        _secrets_dir=secrets_dir if Path(secrets_dir).is_dir() else None,  # type: ignore[call-arg]
        **overrides,
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, loaded once."""
    return load_settings()


def child_environment(overrides: dict[str, str]) -> dict[str, str]:
    """This process's environment with ``overrides`` on top, for a child process (e.g. a worker)."""
    return {**os.environ, **overrides}
