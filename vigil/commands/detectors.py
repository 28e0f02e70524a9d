"""``vigil bench detectors`` (throughput, state size) and ``vigil evaluate`` (alert quality vs NEWS2)."""

from __future__ import annotations

import enum
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from vigil.cli import app, bench_app

if TYPE_CHECKING:
    from detectors.evaluation import Evaluation
    from detectors.monitor import MonitorConfig

PHYSIONET_DEFAULT = Path("..") / "shared" / "data" / "physionet2019_dev.csv.gz"
"""The shared PhysioNet 2019 subset, relative to the repository root."""


class Data(enum.StrEnum):
    SIM = "sim"
    PHYSIONET2019 = "physionet2019"


class Split(enum.StrEnum):
    ALL = "all"
    TUNE = "tune"
    TEST = "test"


@bench_app.command("detectors")
def bench_detectors(
    patients: Annotated[int, typer.Option(min=1, help="Simulated patients.")] = 200,
    days: Annotated[float, typer.Option(min=0.1, help="Simulated days per patient.")] = 3.0,
    seed: Annotated[int, typer.Option(help="Simulator seed.")] = 7,
) -> None:
    """Readings/s through all detectors and the alert policy (JSON), and state bytes per patient."""
    from rich import print_json

    print_json(data=_run_bench(patients=patients, days=days, seed=seed))


@app.command("evaluate")
def evaluate_command(
    data: Annotated[
        Data, typer.Option(help="Labelled data: the simulator or the PhysioNet 2019 subset.")
    ] = Data.SIM,
    input_path: Annotated[
        Path | None, typer.Option("--input", help="Data file (physionet2019: default ../shared/data/...).")
    ] = None,
    split: Annotated[
        Split, typer.Option(help="Patients: all, the tuning half or the held-out test half.")
    ] = Split.ALL,
    patients: Annotated[int, typer.Option(min=1, help="Simulated patients (sim).")] = 300,
    days: Annotated[float, typer.Option(min=0.5, help="Simulated days (sim).")] = 14.0,
    seed: Annotated[int, typer.Option(help="Simulator seed (sim).")] = 11,
    episode_kind: Annotated[
        str | None,
        typer.Option(help="Only episodes of this kind (e.g. sepsis); others leave the burden too."),
    ] = None,
    out: Annotated[Path, typer.Option(help="Directory for evaluation.json and evaluation.md.")] = Path(
        ".cache/evaluation"
    ),
) -> None:
    """Share of labelled episodes alerted, lead time and alert burden per alert kind, next to NEWS2 >= 5."""
    import orjson
    from rich.console import Console
    from rich.table import Table

    path = (
        input_path if input_path is not None else (PHYSIONET_DEFAULT if data is Data.PHYSIONET2019 else None)
    )
    result = _evaluate_data(
        data, path, split=split, patients=patients, days=days, seed=seed, episode_kind=episode_kind
    )
    out.mkdir(parents=True, exist_ok=True)
    stem = f"evaluation-{data.value}-{split.value}" + (f"-{episode_kind}" if episode_kind else "")
    (out / f"{stem}.json").write_bytes(orjson.dumps(result.to_dict(), option=orjson.OPT_INDENT_2))
    (out / f"{stem}.md").write_text(result.to_markdown())
    table = Table(title=f"Vigil alerts vs NEWS2>=5 on {data.value} ({split.value} patients)")
    for col in ("alert", "episodes", "by onset", "during", "median lead h", "alerts/patient-day"):
        table.add_column(col, justify="left" if col == "alert" else "right")
    for r in result.rows:
        table.add_row(
            r.label,
            str(r.episodes),
            "–" if r.by_onset is None else f"{r.by_onset:.1%}",
            "–" if r.during is None else f"{r.during:.1%}",
            "–" if r.median_lead_hours is None else f"{r.median_lead_hours:.1f}",
            "–" if r.alerts_per_patient_day is None else f"{r.alerts_per_patient_day:.3f}",
        )
    console = Console()
    console.print(table)
    console.print(
        f"{result.patients} patients, {result.event_patients} with episodes, "
        f"{result.non_event_patient_days:.0f} non-event patient-days; written to {out / stem}.{{json,md}}"
    )


def _monitor_config_for(data: Data) -> MonitorConfig:
    """The detector tuning per data set: the settings' for simulated data, the hourly preset for ICU rows."""
    from vigil.settings import load_settings
    from vigil.tuning import hourly_icu_config, monitor_config

    settings = load_settings()
    return hourly_icu_config(settings) if data is Data.PHYSIONET2019 else monitor_config(settings)


def _in_split(patient_id: str, split: Split) -> bool:
    """Deterministic halves of the patients by a hash of the id: ``tune`` (even) and ``test`` (odd)."""
    if split is Split.ALL:
        return True
    parity = hashlib.blake2b(patient_id.encode(), digest_size=2).digest()[-1] & 1
    return parity == (0 if split is Split.TUNE else 1)


def _evaluate_data(
    data: Data,
    path: Path | None,
    *,
    split: Split,
    patients: int,
    days: float,
    seed: int,
    episode_kind: str | None,
) -> Evaluation:
    from datetime import timedelta

    from detectors.cohort import CohortMonitor
    from detectors.evaluation import Hysteresis, evaluate, run_cohort
    from detectors.monitor import PatientMonitor

    config = _monitor_config_for(data)
    p = config.policy
    hysteresis = Hysteresis(
        p.resolve_after_normal,
        None if p.resolve_after_minutes is None else timedelta(minutes=p.resolve_after_minutes),
    )
    if data is Data.SIM:
        from ingest.simulator import CohortConfig, simulate_cohort

        sim = simulate_cohort(CohortConfig(patients=patients, days=days, seed=seed))
        cohort = CohortMonitor(PatientMonitor(config), profiles=sim.profiles)
        run = run_cohort(
            cohort, (r for r in sim.readings() if _in_split(r.patient_id, split)), hysteresis=hysteresis
        )
        episodes = sim.episodes
    else:
        from ingest.readers import open_reader
        from ingest.reading import Reading

        if path is None or not path.is_file():
            raise typer.BadParameter(f"{path}: no such file", param_hint="--input")
        reader = open_reader(path, "physionet2019")
        cohort = CohortMonitor(PatientMonitor(config))
        readings = (r for r in reader if isinstance(r, Reading) and _in_split(r.patient_id, split))
        run = run_cohort(cohort, readings, hysteresis=hysteresis)
        episodes = list(reader.labels)  # known once the file has been read
    labelled = {e.patient_id for e in episodes}
    chosen = [e for e in episodes if e.patient_id in run.exposure and episode_kind in (None, e.kind)]
    result = evaluate(run.alerts, chosen, run.exposure, event_patients=labelled)
    result.notes.update(
        {"data": data.value, "split": split.value, "readings": run.readings, "episode_kind": episode_kind}
    )
    return result


def _run_bench(*, patients: int, days: float, seed: int) -> dict[str, object]:
    import statistics
    import time
    import tracemalloc

    from detectors.cohort import CohortMonitor
    from detectors.monitor import PatientMonitor
    from ingest.simulator import CohortConfig, simulate_cohort

    sim = simulate_cohort(CohortConfig(patients=patients, days=days, seed=seed))
    readings = list(sim.readings())  # parsed up front: the bench measures the detectors only
    cohort = CohortMonitor(PatientMonitor(_monitor_config_for(Data.SIM)), profiles=sim.profiles)
    events = ticks = 0
    tick_cpu = 0.0
    next_tick = readings[0].received.timestamp() + 3600 if readings else 0.0
    start = time.process_time()  # CPU time of this process: "per core", robust to other load on the machine
    for r in readings:
        events += len(cohort.process(r).events)
        if r.received.timestamp() >= next_tick:  # hourly ticks of every patient, as the worker's timer does
            t = time.process_time()
            events += len(cohort.tick(r.received))
            tick_cpu += time.process_time() - t
            ticks += 1
            next_tick += 3600
    elapsed = time.process_time() - start - tick_cpu
    sizes = [len(cohort.state_bytes(p)) for p in cohort.states]
    metric_sizes = [
        len(orjson_dumps(b.to_state())) for s in cohort.states.values() for b in s.baselines.values()
    ]
    tracemalloc.start()
    probe = CohortMonitor(PatientMonitor(_monitor_config_for(Data.SIM)), profiles=sim.profiles)
    for r in readings:
        probe.process(r)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "patients": patients,
        "days": days,
        "seed": seed,
        "readings": len(readings),
        "cpu_seconds": round(elapsed, 3),
        "tick_cpu_seconds": round(tick_cpu, 3),
        "readings_per_s": round(len(readings) / elapsed) if elapsed else None,
        "us_per_reading": round(elapsed / len(readings) * 1e6, 2) if readings else None,
        "alert_events": events,
        "hourly_ticks": ticks,
        "state_bytes_per_patient": {"mean": round(statistics.fmean(sizes)), "max": max(sizes)},
        "state_bytes_per_patient_metric": {
            "mean": round(statistics.fmean(metric_sizes)),
            "max": max(metric_sizes),
        },
        "python_heap_peak_bytes_per_patient": round(peak / max(len(probe), 1)),
    }


def orjson_dumps(obj: object) -> bytes:
    import orjson

    return orjson.dumps(obj)
