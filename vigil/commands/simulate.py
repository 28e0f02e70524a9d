"""``vigil simulate`` (a seeded cohort, or recorded data with ``--from``) and ``vigil bench simulate``."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from vigil.cli import app, bench_app

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from ingest.episodes import PatientProfile
    from ingest.reading import Reading
    from ingest.simulator.config import CohortConfig


class SinkKind(enum.StrEnum):
    FILE = "file"
    KAFKA = "kafka"
    MQTT = "mqtt"
    HTTP = "http"


def _start(text: str | None) -> datetime | None:
    if text is None:
        return None
    if text == "now":
        return datetime.now(UTC).replace(microsecond=0)
    from ingest.reading import Rejection, parse_time

    try:
        return parse_time(text, field="start")
    except Rejection as exc:
        raise typer.BadParameter(str(exc), param_hint="--start") from exc


@app.command("simulate")
def simulate_command(
    patients: Annotated[int, typer.Option(min=1, help="Patients in the cohort.")] = 50,
    days: Annotated[float, typer.Option(min=0.01, help="Simulated days.")] = 1.0,
    seed: Annotated[int, typer.Option(min=0, help="Seed: the same seed gives byte-identical output.")] = 7,
    start: Annotated[str | None, typer.Option(help="Start (ISO 8601 with offset, or 'now').")] = None,
    watch_minutes: Annotated[float, typer.Option(min=0.1, help="Smartwatch heart-rate interval.")] = 5.0,
    episode_rate: Annotated[float, typer.Option(min=0, help="Expected episodes per patient-day.")] = 0.05,
    artefacts: Annotated[
        bool,
        typer.Option(
            "--artefacts/--no-artefacts", help="Missing data, delays, duplicates and sensor artefacts."
        ),
    ] = True,
    sink: Annotated[SinkKind, typer.Option(help="Where readings go.")] = SinkKind.FILE,
    out: Annotated[Path, typer.Option(help="Output directory (file sink; labels/profiles always).")] = Path(
        "sim-out"
    ),
    gzip: Annotated[bool, typer.Option(help="Gzip the output files.")] = False,
    speed: Annotated[
        float, typer.Option(min=0, help="Pace by arrival time: 1 real time, 60 = 60x, 0 no pacing.")
    ] = 0.0,
    from_path: Annotated[
        Path | None, typer.Option("--from", help="Send recorded data instead of simulating.")
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="Format of --from: jsonl, csv, fhir, series, physionet2019.")
    ] = "jsonl",
    metric: Annotated[str | None, typer.Option(help="Metric of a series file.")] = None,
    patient: Annotated[str | None, typer.Option(help="Patient id of a series file (or default).")] = None,
    assume_utc: Annotated[bool, typer.Option(help="Read naive timestamps as UTC.")] = False,
    gateway_url: Annotated[
        str | None, typer.Option(help="HTTP sink base URL (default from settings).")
    ] = None,
    tokens: Annotated[
        Path | None, typer.Option(help="HTTP sink: JSON file mapping device_id to token.")
    ] = None,
    workers: Annotated[int, typer.Option(min=1, help="Processes to simulate and serialise on.")] = 1,
    register: Annotated[
        bool,
        typer.Option(
            help="Register the simulated devices in the gateway's device registry (tokens to --out)."
        ),
    ] = False,
) -> None:
    """Generate a seeded cohort with labelled episodes (or read recorded data) and send it to a sink."""
    from rich import print_json

    from ingest.simulator import Artefacts, Cadence, CohortConfig

    target = Target(sink, out, gzip, speed, gateway_url, tokens, register)
    if from_path is not None:
        print_json(data=_send_recorded(from_path, fmt, metric, patient, assume_utc, target))
        return
    overrides: dict[str, Any] = {"start": s} if (s := _start(start)) else {}
    config = CohortConfig(
        patients=patients,
        days=days,
        seed=seed,
        episode_rate=episode_rate,
        cadence=Cadence(watch_minutes=watch_minutes),
        artefacts=Artefacts() if artefacts else Artefacts.none(),
        **overrides,
    )
    print_json(data=_simulate(config, target, workers))


@dataclass(frozen=True, slots=True)
class Target:
    """Where and how fast readings go (the sink options of ``vigil simulate``)."""

    sink: SinkKind
    out: Path
    gzip: bool
    speed: float
    gateway_url: str | None
    tokens: Path | None
    register: bool = False

    @property
    def batch(self) -> int:
        """Readings per send: one at a time when paced, else a batch suited to the sink."""
        return 1 if self.speed else {SinkKind.FILE: 10_000, SinkKind.MQTT: 100}.get(self.sink, 500)


def _simulate(config: CohortConfig, target: Target, workers: int) -> dict[str, Any]:
    from ingest.simulator import simulate_cohort
    from ingest.simulator.sinks import write_files, write_ground_truth

    cohort = simulate_cohort(config, workers=workers)
    summary = {
        "patients": config.patients,
        "days": config.days,
        "seed": config.seed,
        "episodes": len(cohort.episodes),
        "readings": len(cohort),
    }
    if target.sink is SinkKind.FILE and target.speed == 0:
        files = write_files(
            target.out,
            cohort.json_lines(workers=workers),
            cohort.episodes,
            cohort.profiles,
            compress=target.gzip,
        )
        return {
            **summary,
            "readings_file": str(files.readings_path),
            "labels_file": str(files.labels_path),
            "profiles_file": str(files.profiles_path),
        }
    labels, _, _, _ = write_ground_truth(target.out, cohort.episodes, cohort.profiles, compress=target.gzip)
    if target.register:
        target = _register(cohort.devices(), target)
    sent = _send(cohort.readings(), target, cohort.profiles)
    return {**summary, "sent": sent, "labels_file": str(labels)}


def _send_recorded(
    path: Path, fmt: str, metric: str | None, patient: str | None, assume_utc: bool, target: Target
) -> dict[str, Any]:
    from ingest.readers import RejectedRow, open_reader
    from ingest.simulator.sinks import write_ground_truth

    try:
        reader = open_reader(path, fmt, metric=metric, patient=patient, assume_utc=assume_utc)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--from/--format") from exc
    rejected: list[RejectedRow] = []

    def readings() -> Iterable[Reading]:
        for item in reader:
            if isinstance(item, RejectedRow):
                rejected.append(item)
            else:
                yield item

    sent = _send(readings(), target)
    labels, _, n_labels, _ = write_ground_truth(
        target.out, reader.labels, reader.profiles, compress=target.gzip
    )
    return {
        "sent": sent,
        "rejected": len(rejected),
        "first_rejections": [f"{r.location}: {r.reason}" for r in rejected[:5]],
        "labels": n_labels,
        "labels_file": str(labels),
    }


def _register(devices: dict[str, str], target: Target) -> Target:
    """Register the devices in ``Settings.gateway.device_registry``; the target then uses their tokens."""
    from dataclasses import replace

    from ingest.simulator.sinks import register_devices
    from vigil.settings import load_settings

    registry = load_settings().gateway.device_registry
    if registry is None:
        raise typer.BadParameter("--register needs VIGIL_GATEWAY__DEVICE_REGISTRY (the registry file)")
    tokens = target.out / "device-tokens.json"
    register_devices(registry, devices, tokens)
    return replace(target, tokens=tokens)


def _send(readings: Iterable[Reading], target: Target, profiles: Sequence[PatientProfile] = ()) -> int:
    """Readings (paced when ``speed`` > 0) to the sink; returns how many were sent.

    The Kafka sink sends the patients' ``profiles`` first (the worker scores NEWS2 on their SpO2
    scale); the other sinks carry readings only (profiles reach Kafka with ``vigil profiles load``
    or the gateway's ``PUT /v1/patients/{id}/profile``)."""
    import orjson

    from ingest.simulator import sinks
    from vigil.settings import load_settings

    paced = sinks.pace(readings, speed=target.speed, when=lambda r: r.received)
    if target.sink is SinkKind.FILE:
        path = target.out / (sinks.READINGS_FILE + (".gz" if target.gzip else ""))
        return sinks.write_lines(path, sinks.reading_lines(paced, batch=target.batch), flush=target.speed > 0)
    settings = load_settings()
    if target.sink is SinkKind.KAFKA:
        from ingest.topics import ensure_topics

        ensure_topics(settings)  # else a broker may auto-create them with its own partition count
        return sinks.send_to_kafka(paced, settings, batch=target.batch, profiles=profiles)
    if target.sink is SinkKind.MQTT:
        return sinks.send_to_mqtt(paced, settings, batch=target.batch)
    if target.tokens is None:
        raise typer.BadParameter("the http sink needs --tokens (JSON: device_id -> bearer token)")
    url = target.gateway_url or f"http://{settings.gateway.host}:{settings.gateway.port}"
    return sinks.send_to_gateway(paced, url, orjson.loads(target.tokens.read_bytes()), batch=target.batch)


@bench_app.command("simulate")
def bench_simulate(
    patients: Annotated[int, typer.Option(min=1, help="Patients in the benchmark cohort.")] = 1000,
    days: Annotated[float, typer.Option(min=0.1, help="Simulated days.")] = 7.0,
    seed: Annotated[int, typer.Option(help="Seed.")] = 1,
    reader_rows: Annotated[int, typer.Option(min=1000, help="Readings per reader benchmark.")] = 100_000,
    physionet: Annotated[Path, typer.Option(help="PhysioNet 2019 file (relative to the repo root).")] = Path(
        "../shared/data/physionet2019_dev.csv.gz"
    ),
    workers: Annotated[int, typer.Option(min=1, help="Processes for the simulator (readers use one).")] = 1,
) -> None:
    """Readings/s of the simulator to a file, and of each reader; prints JSON."""
    from rich import print_json

    from ingest.simulator.bench import run_benchmark

    print_json(
        data=run_benchmark(
            patients=patients,
            days=days,
            seed=seed,
            reader_rows=reader_rows,
            physionet=physionet,
            workers=workers,
        )
    )
