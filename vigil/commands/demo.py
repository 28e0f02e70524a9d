"""``vigil demo`` and ``vigil replay``: the whole detection pipeline in one process, no servers needed."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from vigil.cli import app, bench_app

if TYPE_CHECKING:
    from rich.console import Console

    from vigil.runner import ResultSink, RunResult
    from vigil.settings import Settings
    from vigil.tuning import Tuning


WarmupOpt = Annotated[
    int | None, typer.Option("--warmup", min=0, help="Readings per metric before a baseline may alert.")
]
PersistOpt = Annotated[
    str | None, typer.Option(help="Raise an alert after N abnormal of the last M signals, e.g. 2/3.")
]
PersistMinutesOpt = Annotated[
    float | None, typer.Option(min=0, help="...or once abnormal for this many minutes (0: off; hourly data).")
]
AnomalyZOpt = Annotated[
    float | None, typer.Option(min=0.5, help="|z| from the patient's own baseline that counts as anomalous.")
]
WorkersOpt = typer.Option(
    "--workers",
    min=1,
    max=64,
    help="Processes to shard patients over (same alerts and scores; scores.csv rows grouped by shard).",
)


def _tuning(
    warmup: int | None, persist: str | None, persist_minutes: float | None, anomaly_z: float | None
) -> Tuning:
    from vigil.tuning import Tuning

    try:
        return Tuning(warmup, Tuning.parse_persist(persist) if persist else None, persist_minutes, anomaly_z)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc


class ReplayFormat(StrEnum):
    jsonl = "jsonl"
    csv = "csv"
    fhir = "fhir"
    series = "series"
    physionet2019 = "physionet2019"


@app.command("demo")
def demo(
    out: Annotated[
        Path, typer.Option(help="Output folder for scores.csv, alerts.csv and report.html.")
    ] = Path("vigil-demo"),
    patients: Annotated[int, typer.Option(min=1, max=100_000, help="Simulated patients.")] = 50,
    days: Annotated[float, typer.Option(min=0.01, max=365, help="Simulated days.")] = 1.0,
    seed: Annotated[int, typer.Option(min=0, help="Random seed: the same seed gives the same ward.")] = 7,
    episode_rate: Annotated[
        float,
        typer.Option(min=0, max=10, help="Injected episodes per patient-day (desaturation, sepsis, ...)."),
    ] = 0.12,
    pace: Annotated[
        float | None,
        typer.Option(
            help="Stretch the run to about this many seconds to watch it (default 15 on a terminal, else 0)."
        ),
    ] = None,
    report: Annotated[bool, typer.Option(help="Write report.html.")] = True,
    kafka: Annotated[
        bool, typer.Option(help="Send the simulated readings to Kafka for the stream workers instead.")
    ] = False,
    influx: Annotated[bool, typer.Option(help="Also write the in-process results to InfluxDB.")] = False,
    warmup: WarmupOpt = None,
    persist: PersistOpt = None,
    persist_minutes: PersistMinutesOpt = None,
    anomaly_z: AnomalyZOpt = None,
) -> None:
    """Simulate a virtual ward and run it through the real detectors, with a live view and an HTML report."""
    from rich.console import Console

    from vigil.demo import DemoOptions, run_demo, send_demo_to_kafka
    from vigil.settings import load_settings

    console = Console()
    settings = load_settings()
    pace_s = pace if pace is not None else (15.0 if console.is_terminal else 0.0)
    opts = DemoOptions(
        out=out, patients=patients, days=days, seed=seed, episode_rate=episode_rate, pace_seconds=pace_s,
        report=report, tuning=_tuning(warmup, persist, persist_minutes, anomaly_z),
    )  # fmt: skip
    if kafka:
        from ingest.producer import KafkaSink, ProduceError

        sink = KafkaSink(settings)
        try:
            sent = send_demo_to_kafka(opts, sink, console)
        except ProduceError as exc:
            _fail(console, exc)
        finally:
            sink.close()
        console.print(
            f"Sent {sent:,} readings to Kafka topic [bold]{settings.topics.readings}[/] at "
            f"{settings.kafka.bootstrap_servers}; ground truth in {out / 'episodes.jsonl'}. "
            "Start the stream workers (`vigil worker`) to process them."
        )
        return
    try:
        with _extra_sinks(settings, influx) as sinks:
            result = run_demo(opts, settings, console, extra_sinks=sinks)
    except _influx_errors(influx) as exc:
        _fail(console, exc)
    _print_result(console, result)


@app.command("replay")
def replay(
    input: Annotated[
        Path, typer.Argument(exists=True, help="Recorded data file (.gz ok), or a FHIR directory.")
    ],
    format: Annotated[ReplayFormat, typer.Option("--format", "-f", help="Input format.")],
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("vigil-replay"),
    metric: Annotated[
        str | None, typer.Option(help="Metric of a 'series' file (name, alias or LOINC).")
    ] = None,
    patient: Annotated[str | None, typer.Option(help="Patient id of a 'series' file.")] = None,
    assume_utc: Annotated[bool, typer.Option(help="Read times without a timezone as UTC.")] = False,
    lateness: Annotated[
        float, typer.Option(min=0, help="Reorder window per patient, in minutes of event time.")
    ] = 120.0,
    max_buffered: Annotated[
        int, typer.Option(min=1, help="At most this many readings held for reordering (bounds memory).")
    ] = 200_000,
    report: Annotated[bool, typer.Option(help="Write report.html.")] = True,
    influx: Annotated[bool, typer.Option(help="Also write the results to InfluxDB.")] = False,
    workers: Annotated[int, WorkersOpt] = 1,
    warmup: WarmupOpt = None,
    persist: PersistOpt = None,
    persist_minutes: PersistMinutesOpt = None,
    anomaly_z: AnomalyZOpt = None,
) -> None:
    """Run recorded data through the detectors in event-time order; write scores, alerts, rejects, report."""
    from rich.console import Console

    from vigil.replay import ReplayOptions, run_replay
    from vigil.settings import load_settings

    console = Console()
    settings = load_settings()
    opts = ReplayOptions(
        input=input, fmt=format.value, out=out, metric=metric, patient=patient, assume_utc=assume_utc,
        lateness_minutes=lateness, max_buffered=max_buffered, report=report, workers=workers,
        tuning=_tuning(warmup, persist, persist_minutes, anomaly_z),
    )  # fmt: skip
    try:
        with _extra_sinks(settings, influx) as sinks:
            result = run_replay(opts, settings, console, extra_sinks=sinks)
    except ValueError as exc:  # a bad option or unreadable file, named by the reader
        raise typer.BadParameter(str(exc)) from exc
    except _influx_errors(influx) as exc:
        _fail(console, exc)
    _print_result(console, result)


def _extra_sinks(settings: Settings, influx: bool) -> AbstractContextManager[list[ResultSink]]:
    if not influx:
        return nullcontext([])
    from vigil.influx_results import influx_results

    return influx_results(settings)  # type: ignore[return-value]


def _influx_errors(influx: bool) -> tuple[type[Exception], ...]:
    """What ``--influx`` may fail with (nothing to catch without it)."""
    if not influx:
        return ()
    from vigil.influx_results import InfluxUnavailable

    return (InfluxUnavailable,)


def _fail(console: Console, exc: Exception) -> NoReturn:
    console.print(f"[bold red]error:[/] {exc}")
    raise typer.Exit(1) from exc


def _print_result(console: Console, result: RunResult) -> None:
    from rich.table import Table

    table = Table(title="Run summary", show_header=False)
    for k, v in result.summary.facts().items():
        table.add_row(k, f"{v:,}" if isinstance(v, int) else str(v))
    console.print(table)
    if result.evaluation is not None and result.evaluation.rows:
        from vigil.report import detection_table

        rows = detection_table(result.evaluation)
        detection = Table(title="Detection vs labelled episodes (see report.html for definitions)")
        for col in rows[0]:
            detection.add_column(col, justify="left" if col == "alert" else "right")
        for row in rows:
            detection.add_row(*("" if v is None else str(v) for v in row.values()))
        console.print(detection)
    for name in ("scores.csv", "alerts.csv", "rejected.csv", "report.html"):
        path = result.out_dir / name
        if path.exists():
            console.print(f"  {path}")


@bench_app.command("replay")
def bench_replay(
    input: Annotated[Path, typer.Argument(exists=True, help="Recorded data file (.gz ok).")],
    format: Annotated[ReplayFormat, typer.Option("--format", "-f", help="Input format.")],
    lateness: Annotated[float, typer.Option(min=0, help="Reorder window per patient, minutes.")] = 120.0,
    workers: Annotated[int, WorkersOpt] = 1,
) -> None:
    """Replay throughput: the reader alone, then the whole replay (reorder, detectors, CSV); JSON to stdout.

    Wall time shares the machine with whatever else runs; CPU time is this process's own.
    """
    import resource
    import tempfile
    import time

    import orjson
    from rich.console import Console

    from ingest.readers import open_reader
    from ingest.reading import Reading
    from vigil.replay import ReplayOptions, run_replay
    from vigil.settings import load_settings

    quiet = Console(quiet=True)
    wall, cpu = time.perf_counter(), time.process_time()
    n = sum(isinstance(item, Reading) for item in open_reader(input, format.value))
    reader = {"readings": n, "wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu}
    with tempfile.TemporaryDirectory() as out:
        opts = ReplayOptions(
            input=input, fmt=format.value, out=Path(out), lateness_minutes=lateness, report=False,
            workers=workers,
        )  # fmt: skip
        wall, cpu = time.perf_counter(), time.process_time() + _children_cpu()
        summary = run_replay(opts, load_settings(), quiet).summary
        full = {
            "readings": summary.readings,
            "wall_s": time.perf_counter() - wall,
            "cpu_s": time.process_time() + _children_cpu() - cpu,  # the workers' too
        }
    result = {
        "input": str(input),
        "format": format.value,
        "reader_only": _rates(reader),
        "replay": _rates(full),
        "workers": workers,
        "alerts_raised": summary.alerts_raised,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "peak_rss_mb_largest_worker": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
    }
    typer.echo(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())


def _children_cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _rates(m: dict[str, float]) -> dict[str, float]:
    return {
        "readings": m["readings"],
        "wall_s": round(m["wall_s"], 2),
        "cpu_s": round(m["cpu_s"], 2),
        "readings_per_s_wall": round(m["readings"] / m["wall_s"]) if m["wall_s"] else 0,
        "readings_per_cpu_s": round(m["readings"] / m["cpu_s"]) if m["cpu_s"] else 0,
    }
