"""``vigil worker`` (the Faust stream worker), ``vigil bench pipeline`` and ``vigil bench table``."""

from __future__ import annotations

import typer

from vigil.cli import app, bench_app


@app.command("worker")
def worker(
    worker_id: str = typer.Option(
        "", help="Unique id of this worker (default: host-pid); names its state dir."
    ),
    create_topics: bool = typer.Option(True, help="Create missing Kafka topics first."),
) -> None:
    """Run the stream worker: validate, detect, acknowledge, profiles; sinks to InfluxDB and Grafana."""
    from faust.worker import Worker

    from streams.app import create_app
    from vigil.settings import load_settings

    settings = load_settings()
    if create_topics:
        from ingest.topics import ensure_topics

        ensure_topics(settings)
    faust_app = create_app(settings, worker_id=worker_id or None)  # tunes the process when it starts
    Worker(faust_app, loglevel=settings.log_level.lower(), quiet=True).execute_from_commandline()


@bench_app.command("pipeline")
def bench_pipeline(
    readings: int = typer.Option(100_000, help="Readings to push through the worker."),
    patients: int = typer.Option(1_000, help="Distinct patients in the input."),
    rate: int = typer.Option(5_000, help="Produce at this many readings/s for the latency run (0: skip)."),
    latency_workers: int = typer.Option(
        1,
        min=1,
        help="Workers sharing the partitions in the latency run (throughput is always one worker's).",
    ),
    state_patients: int = typer.Option(10_000, help="Patients for the state-size measurement."),
    state_days: float = typer.Option(
        28.0, min=1.0, help="Days of simulated readings before a patient's state is measured."
    ),
    recovery_patients: int = typer.Option(
        10_000, min=0, help="Patients in the table of the recovery measurement (0: skip it)."
    ),
) -> None:
    """End-to-end throughput, latency and memory of one worker on the local Kafka and InfluxDB (JSON)."""
    import orjson

    from streams.bench import run_pipeline_bench
    from vigil.settings import load_settings

    result = run_pipeline_bench(
        load_settings(),
        readings=readings,
        patients=patients,
        rate=rate,
        latency_workers=latency_workers,
        state_patients=state_patients,
        state_days=state_days,
        recovery_patients=recovery_patients,
    )
    typer.echo(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())


@bench_app.command("table")
def bench_table(
    partitions: int = typer.Option(6, min=1, help="Table partitions (one RocksDB database each)."),
    patients: int = typer.Option(10_000, min=1, help="Patients whose states are written."),
    rounds: int = typer.Option(40, min=1, help="Times each patient's state is written."),
) -> None:
    """Memory of the state table's RocksDB databases under writes: Faust's defaults vs the worker's (JSON)."""
    import orjson

    from streams.table_bench import run_table_bench
    from vigil.settings import load_settings

    result = run_table_bench(load_settings(), partitions=partitions, patients=patients, rounds=rounds)
    typer.echo(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
