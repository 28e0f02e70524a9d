"""``vigil grafana provision`` (push Vigil's Grafana objects) and ``vigil bench dashboards``."""

from __future__ import annotations

import typer

from vigil.cli import bench_app, grafana_app


@grafana_app.command("provision")
def provision_command() -> None:
    """Create or update Vigil's folder, InfluxDB datasource, dashboards and alert rules in Grafana.

    Uses VIGIL_GRAFANA__URL and VIGIL_GRAFANA__TOKEN (a service-account token with the
    Editor role, or user:password in the URL) and the InfluxDB settings for the datasource.
    Safe to run repeatedly: everything is created or updated by uid.
    """
    from rich import print_json

    from vigil.grafana.provision import connect, provision
    from vigil.settings import load_settings

    settings = load_settings()
    report = provision(connect(settings), settings)
    print_json(data={"created": report.created, "updated": report.updated})


@bench_app.command("dashboards")
def bench_dashboards(
    patients: int = typer.Option(50, min=1, help="Simulated patients to load first (0 days: load nothing)."),
    days: float = typer.Option(
        3.0, min=0, help="Simulated days before now to load (0: query existing data)."
    ),
    hours: float = typer.Option(24.0, min=0.1, help="Dashboard time range queried."),
    interval: str = typer.Option("5m", help="Value of $__interval in the queries."),
    repeat: int = typer.Option(5, min=1, help="Runs per query (the median is reported)."),
    create_database: bool = typer.Option(False, help="CREATE DATABASE first (InfluxDB 1.8)."),
) -> None:
    """Time generating the Grafana files and every dashboard query against the configured InfluxDB."""
    import time
    from datetime import UTC, datetime

    from rich import print_json

    from vigil.grafana.bench import influxql, query_latencies, render_ms
    from vigil.grafana.provision import influxql_database
    from vigil.grafana.sample_data import pipeline_points, ward_points, write_points
    from vigil.settings import load_settings

    settings = load_settings()
    result: dict[str, object] = {"render_all_files_ms": render_ms(repeat)}
    if create_database:
        influxql(settings, f'CREATE DATABASE "{influxql_database(settings.influx.bucket)}"')
    now = datetime.now(UTC)
    patient_ids: list[str] = []
    if days > 0:
        start = time.perf_counter()
        points, patient_ids = ward_points(settings, now, patients=patients, days=days)
        points += pipeline_points(now)
        built = time.perf_counter()
        write_points(settings, points)
        result |= {
            "points_written": len(points),
            "detect_s": round(built - start, 2),
            "write_s": round(time.perf_counter() - built, 2),
        }
    patient = patient_ids[0] if patient_ids else "sim-000000"
    result |= {
        "time_range_h": hours,
        "interval": interval,
        **query_latencies(settings, patient, hours, interval, repeat),
    }
    print_json(data=result)
