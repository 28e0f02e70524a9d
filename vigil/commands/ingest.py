"""``vigil gateway``, ``mqtt-bridge``, ``devices``, ``clinicians`` and ``bench ingest``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from vigil.cli import app, bench_app

devices_app = typer.Typer(
    help="Device credentials: register, revoke, list (tokens are shown once).", no_args_is_help=True
)
clinicians_app = typer.Typer(help="Clinician credentials for acknowledging alerts.", no_args_is_help=True)
app.add_typer(devices_app, name="devices")
app.add_typer(clinicians_app, name="clinicians")

REGISTRY_HELP = "Registry file (default: VIGIL_GATEWAY__{}_REGISTRY)."


def _registry_path(option: Path | None, field: str) -> Path:
    from vigil.settings import load_settings

    path = option or getattr(load_settings().gateway, field)
    if path is None:
        typer.echo(
            f"gateway.{field}: no registry file configured (set VIGIL_GATEWAY__{field.upper()}; the "
            f"devices/clinicians commands also take --registry)",
            err=True,
        )
        raise typer.Exit(2)
    return Path(path)


@app.command("gateway")
def gateway(
    host: str | None = typer.Option(None, help="Bind address (default: Settings.gateway.host)."),
    port: int | None = typer.Option(None, help="Port (default: Settings.gateway.port)."),
    workers: int = typer.Option(1, min=1, help="Worker processes (each with its own Kafka producer)."),
    create_topics: bool = typer.Option(True, help="Create missing Kafka topics first."),
) -> None:
    """Run the HTTP ingest gateway (FastAPI on uvicorn); OpenAPI docs at /docs."""
    import uvicorn

    from ingest.topics import ensure_topics
    from vigil.settings import load_settings

    settings = load_settings()
    _registry_path(None, "device_registry")  # no registry: every device would get 401, so refuse to start
    if create_topics:
        ensure_topics(settings)
    uvicorn.run(
        "ingest.gateway.app:app_from_environment",
        factory=True,
        workers=workers,
        host=host or settings.gateway.host,
        port=port or settings.gateway.port,
        log_level=settings.log_level.lower(),
        access_log=False,
    )


@app.command("mqtt-bridge")
def mqtt_bridge(
    client_id: str = typer.Option(
        "vigil-mqtt-bridge", help="MQTT client id (fixed: the broker keeps its session)."
    ),
) -> None:
    """Forward home-hub readings from MQTT (Settings.mqtt.topic_filter) to Kafka, acking after Kafka."""
    from ingest.mqtt_bridge import MqttBridge
    from ingest.producer import KafkaSink
    from ingest.registry import DeviceRegistry
    from vigil.settings import load_settings

    settings = load_settings()
    sink = KafkaSink(settings)
    bridge = MqttBridge(
        settings, DeviceRegistry(_registry_path(None, "device_registry")), sink, client_id=client_id
    )
    try:
        bridge.run_forever()
    except KeyboardInterrupt:
        pass
    finally:
        bridge.stop()
        sink.close()


@devices_app.command("add")
def devices_add(
    device_id: str,
    patient: str = typer.Option(..., "--patient", help="Pseudonymous patient id this device measures."),
    source: str = typer.Option("wearable", help="wearable, home_device, manual, ..."),
    description: str = typer.Option("", help="Free text, e.g. the device model (no patient data)."),
    registry: Path | None = typer.Option(None, help=REGISTRY_HELP.format("DEVICE")),
) -> None:
    """Register (or re-key) a device; prints its bearer token once."""
    from ingest.registry import DeviceRegistry

    reg = DeviceRegistry(_registry_path(registry, "device_registry"))
    try:
        typer.echo(reg.add(device_id, patient_id=patient, source=source, description=description))
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc


@clinicians_app.command("add")
def clinicians_add(
    clinician_id: str,
    description: str = typer.Option("", help="Free text, e.g. the team."),
    registry: Path | None = typer.Option(None, help=REGISTRY_HELP.format("CLINICIAN")),
) -> None:
    """Register (or re-key) a clinician; prints the bearer token once."""
    from ingest.registry import ClinicianRegistry

    reg = ClinicianRegistry(_registry_path(registry, "clinician_registry"))
    try:
        typer.echo(reg.add(clinician_id, description=description))
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc


def _open_registry(kind: str, path: Path | None) -> Any:
    from ingest import registry

    cls = registry.DeviceRegistry if kind == "device" else registry.ClinicianRegistry
    return cls(_registry_path(path, f"{kind}_registry"))


def _add_revoke_and_list(sub_app: typer.Typer, kind: str) -> None:
    """``revoke`` and ``list`` for a registry kind (``device`` or ``clinician``)."""
    option = typer.Option(None, "--registry", help=REGISTRY_HELP.format(kind.upper()))

    @sub_app.command("revoke")
    def revoke(
        credential_id: str = typer.Argument(..., metavar="ID"), registry: Path | None = option
    ) -> None:
        """Revoke a credential: its token then answers 403."""
        reg = _open_registry(kind, registry)
        try:
            reg.revoke(credential_id)
        except KeyError as exc:
            typer.echo(f"{credential_id}: not registered", err=True)
            raise typer.Exit(1) from exc
        typer.echo(f"{credential_id}: revoked")

    @sub_app.command("list")
    def list_(registry: Path | None = option) -> None:
        """List the registered credentials (JSON, without token hashes)."""
        from dataclasses import asdict

        import orjson

        rows = [
            {k: v for k, v in asdict(r).items() if k != "token_hash"}
            for r in _open_registry(kind, registry).records()
        ]
        sys.stdout.write(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode() + "\n")


_add_revoke_and_list(devices_app, "device")
_add_revoke_and_list(clinicians_app, "clinician")


@bench_app.command("ingest")
def bench_ingest(
    readings: int = typer.Option(200_000, help="Readings to post."),
    batch: int = typer.Option(500, help="Readings per POST."),
    clients: int = typer.Option(8, help="Concurrent clients (one device each)."),
    no_kafka: bool = typer.Option(
        False, "--no-kafka", help="Measure parsing + validation only (in-memory sink)."
    ),
    url: str | None = typer.Option(
        None, help="Drive a running gateway over HTTP instead of in-process ASGI."
    ),
    token: list[str] = typer.Option([], help="Device token(s) for --url mode."),
    gateway_pid: int | None = typer.Option(
        None, help="--url mode: the gateway's pid, to measure its CPU time."
    ),
) -> None:
    """Readings/s through the gateway into Kafka with batched JSON (prints JSON)."""
    import uuid

    import orjson

    from ingest.gateway.loadtest import LoadPlan, run_load
    from vigil.settings import load_settings

    plan = LoadPlan(readings=readings, batch=batch, clients=clients)
    if url:
        if not token:
            typer.echo("--url needs at least one --token (vigil devices add ...)", err=True)
            raise typer.Exit(2)
        result = run_load(plan, url=url, tokens=token, gateway_pid=gateway_pid)
        result |= {"transport": f"http to {url} (external gateway process)", "kafka": "as configured there"}
        sys.stdout.write(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    from ingest.gateway import create_app
    from ingest.producer import MemorySink, Sink, compression_type
    from ingest.registry import ClinicianRegistry, DeviceRegistry
    from ingest.topics import TOPIC_FIELDS

    settings = load_settings()
    sink: Sink
    topic_prefix = f"vigil-bench-{uuid.uuid4().hex[:8]}"
    if no_kafka:
        sink = MemorySink(keep=False)
    else:
        settings = settings.model_copy(
            update={
                "topics": settings.topics.model_copy(
                    update={f: f"{topic_prefix}.{getattr(settings.topics, f)}" for f in TOPIC_FIELDS}
                )
            }
        )
        sink = _kafka_sink_or_exit(settings)
    devices = DeviceRegistry()
    tokens = [devices.add(f"bench-{i}", patient_id=f"bench-p{i}") for i in range(clients)]
    app_ = create_app(settings, sink=sink, devices=devices, clinicians=ClinicianRegistry())
    try:
        result = run_load(plan, app=app_, tokens=tokens)
    finally:
        sink.close()
        if not no_kafka:
            _delete_topics(settings, topic_prefix)
    result |= {
        "transport": "in-process ASGI (httpx.ASGITransport, no sockets), one process",
        "kafka": "none (--no-kafka: parsing + validation only)"
        if no_kafka
        else f"{settings.kafka.bootstrap_servers} acks=all idempotent {compression_type()}",
    }
    sys.stdout.write(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode() + "\n")


def _kafka_sink_or_exit(settings: Any) -> Any:
    from ingest.producer import KafkaSink, ProduceError
    from ingest.topics import ensure_topics

    try:
        ensure_topics(settings, timeout_s=10)
        sink = KafkaSink(settings)
        if not sink.ready():
            raise ProduceError("no bootstrap connection")
    except Exception as exc:
        typer.echo(
            f'{{"error": "Kafka unreachable at {settings.kafka.bootstrap_servers}: '
            f'{type(exc).__name__}", "hint": "start it (bash scripts/services.sh up) or use --no-kafka"}}'
        )
        raise typer.Exit(1) from exc
    return sink


def _delete_topics(settings: Any, prefix: str) -> None:
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(
        bootstrap_servers=settings.kafka.bootstrap_list, **settings.kafka.kafka_python_config()
    )
    try:
        admin.delete_topics([t for t in admin.list_topics() if t.startswith(prefix)])
    finally:
        admin.close()
