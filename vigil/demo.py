"""``vigil demo``: a simulated virtual ward through the real detectors, in process, in seconds.

The simulator (:mod:`ingest.simulator`) generates a seeded cohort with injected
episodes; its readings, in arrival order, go through the same ``CohortMonitor`` /
``PatientMonitor`` as the stream worker. The output folder gets ``scores.csv``,
``alerts.csv``, ``rejected.csv``, ``episodes.jsonl`` (the ground truth) and ``report.html``.
With a Kafka sink the readings go to Kafka for the stream workers instead.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from rich.console import Console

from detectors.cohort import CohortMonitor
from detectors.monitor import PatientMonitor
from ingest.deadletter import DeadLetter
from ingest.episodes import PatientProfile
from ingest.reading import Reading
from ingest.simulator import CohortConfig, simulate_cohort
from vigil.live import LiveDisplay, WardView
from vigil.runner import (
    CsvSink,
    Pipeline,
    ResultSink,
    RunResult,
    run_with_evaluation,
    write_episodes,
)
from vigil.settings import Settings
from vigil.tuning import Tuning, monitor_config, tuning_rows

KAFKA_BATCH = 2000


@dataclass(frozen=True, slots=True)
class DemoOptions:
    """What to simulate and how to show it.

    ``pace_seconds`` stretches the run to about that many wall seconds so the live
    view can be watched (0: as fast as possible).
    """

    out: Path = Path("vigil-demo")
    patients: int = 50
    days: float = 1.0
    seed: int = 7
    episode_rate: float = 0.12
    pace_seconds: float = 0.0
    report: bool = True
    tuning: Tuning = field(default_factory=Tuning)
    tick_minutes: float = 5.0


class _Pacer:
    """Sleeps so simulated time ``span`` takes about ``seconds`` of wall time (nothing when 0)."""

    def __init__(self, start: datetime, span: timedelta, seconds: float) -> None:
        self._start, self._rate = start, seconds / span.total_seconds() if seconds > 0 else 0.0
        self._t0 = time.monotonic()

    def wait(self, sim_time: datetime) -> None:
        if self._rate:
            ahead = (sim_time - self._start).total_seconds() * self._rate - (time.monotonic() - self._t0)
            if ahead > 0.01:
                time.sleep(ahead)


def run_demo(
    opts: DemoOptions, settings: Settings, console: Console, *, extra_sinks: Sequence[ResultSink] = ()
) -> RunResult:
    """Simulate the ward and run it through the in-process pipeline; writes the output folder."""
    from vigil.report import ReportInput, write_report

    # a simulated episode starts at its clinical onset (unlike PhysioNet's sepsis label, 6 h before)

    cohort = simulate_cohort(_cohort_config(opts))
    opts.out.mkdir(parents=True, exist_ok=True)
    write_episodes(opts.out / "episodes.jsonl", cohort.episodes)
    ward = WardView()
    config = monitor_config(settings, opts.tuning)
    pipeline = Pipeline(
        CohortMonitor(PatientMonitor(config), profiles=cohort.profiles),
        CsvSink(opts.out),
        [ward, *extra_sinks],
        tick_every=timedelta(minutes=opts.tick_minutes),
    )
    start, span = cohort.config.start, timedelta(days=opts.days)
    pacer = _Pacer(start, span, opts.pace_seconds)
    with LiveDisplay(console, total=span.total_seconds(), description="simulated time", ward=ward) as live:

        def shown(readings: Iterable[Reading]) -> Iterator[Reading]:
            for reading in readings:
                pacer.wait(reading.received)
                yield reading
                live.update((reading.received - start).total_seconds(), _clock_label(reading.received))

        summary, evaluation = run_with_evaluation(
            pipeline, shown(cohort.readings()), lambda: cohort.episodes, onset_offset={}
        )
    report = None
    if opts.report:
        report = write_report(
            opts.out,
            ReportInput(
                title="Vigil demo: simulated virtual ward",
                subtitle=f"{opts.patients} simulated patients, {opts.days:g} day(s), seed {opts.seed}, "
                f"{len(cohort.episodes)} injected episode(s)",
                facts=summary.facts(),
                patients=cohort.patient_ids,
                episodes=cohort.episodes,
                evaluation=evaluation,
                settings=tuning_rows(config),
            ),
        )
    return RunResult(summary, opts.out, report, evaluation)


def _cohort_config(opts: DemoOptions) -> CohortConfig:
    return CohortConfig(
        patients=opts.patients, days=opts.days, seed=opts.seed, episode_rate=opts.episode_rate
    )


class ReadingSender(Protocol):
    """What ``--kafka`` needs of ``ingest.producer.KafkaSink`` (``MemorySink`` in tests)."""

    def send_readings(self, readings: Sequence[Reading], dead_letters: Sequence[DeadLetter] = ()) -> None: ...

    def send_profiles(self, profiles: Sequence[PatientProfile], actor: str) -> None: ...


def send_demo_to_kafka(opts: DemoOptions, sink: ReadingSender, console: Console) -> int:
    """Send the patients' profiles, then the simulated readings, to Kafka (the stream workers process
    them); returns how many readings were sent."""
    cohort = simulate_cohort(_cohort_config(opts))
    opts.out.mkdir(parents=True, exist_ok=True)
    write_episodes(opts.out / "episodes.jsonl", cohort.episodes)
    sink.send_profiles(cohort.profiles, actor="demo")
    sent = 0
    with LiveDisplay(console, total=len(cohort), description="to Kafka") as live:
        for batch in _batches(cohort.readings(), KAFKA_BATCH):
            sink.send_readings(batch)
            sent += len(batch)
            live.update(sent, f"{sent} readings")
    return sent


def _batches(readings: Iterable[Reading], size: int) -> Iterable[list[Reading]]:
    batch: list[Reading] = []
    for r in readings:
        batch.append(r)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _clock_label(t: datetime) -> str:
    return t.strftime("%a %H:%M UTC")
