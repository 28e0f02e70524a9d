"""``vigil replay``: recorded data through the real detectors, in event-time order per patient.

A reader from :mod:`ingest.readers` streams the file (never loaded whole); a bounded
reorder buffer puts each patient's readings in event-time order (readings later than
the lateness window are still processed, and the monitor marks them late); the
pipeline writes ``scores.csv``, ``alerts.csv``, ``rejected.csv`` and ``report.html``,
with detection against the file's labels when it has any (e.g. PhysioNet ``SepsisLabel``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from rich.console import Console

from detectors.cohort import CohortMonitor
from detectors.monitor import PatientMonitor
from ingest.readers import Item, Reader, open_reader
from vigil.live import LiveDisplay
from vigil.runner import (
    CsvSink,
    Pipeline,
    ResultSink,
    RunResult,
    readings_only,
    replay_items,
    run_with_evaluation,
)
from vigil.settings import Settings
from vigil.tuning import Tuning, monitor_config

PROGRESS_EVERY = 4096
"""Items between progress updates (reading the file position costs a system call)."""


@dataclass(frozen=True, slots=True)
class ReplayOptions:
    """What to replay and how.

    ``lateness_minutes`` is the reorder window per patient; ``max_buffered`` bounds the
    readings held for reordering (beyond it the least recently seen patient is flushed).
    """

    input: Path
    fmt: str
    out: Path
    metric: str | None = None
    patient: str | None = None
    assume_utc: bool = False
    lateness_minutes: float = 120.0
    max_buffered: int = 200_000
    tick_minutes: float = 5.0
    report: bool = True
    tuning: Tuning = field(default_factory=Tuning)


class FilePosition:
    """How far this process has read into a file: its open descriptor's offset (Linux ``/proc``).

    For a ``.gz`` file that is the compressed offset, which matches the size on disk.
    Elsewhere (no ``/proc``) :meth:`read` returns 0 and only the item count moves.
    """

    def __init__(self, path: Path) -> None:
        self.size = path.stat().st_size
        self._target = os.path.realpath(path)
        self._fdinfo: str | None = None

    def read(self) -> int:
        if self._fdinfo is None:
            self._fdinfo = self._find()
            if self._fdinfo is None:
                return 0
        try:
            with open(self._fdinfo, encoding="ascii") as f:
                for line in f:
                    if line.startswith("pos:"):
                        return int(line.split()[1])
        except OSError:
            self._fdinfo = None
        return 0

    def _find(self) -> str | None:
        try:
            fds = os.listdir("/proc/self/fd")
        except OSError:
            return None
        for fd in fds:
            try:
                if os.readlink(f"/proc/self/fd/{fd}") == self._target:
                    return f"/proc/self/fdinfo/{fd}"
            except OSError:
                continue
        return None


def run_replay(
    opts: ReplayOptions, settings: Settings, console: Console, *, extra_sinks: Sequence[ResultSink] = ()
) -> RunResult:
    """Replay a recorded file through the in-process pipeline; writes the output folder."""
    from vigil.report import ReportInput, write_report

    reader = open_reader(
        opts.input, opts.fmt, metric=opts.metric, patient=opts.patient, assume_utc=opts.assume_utc
    )
    config = monitor_config(settings, opts.tuning)
    cohort = CohortMonitor(PatientMonitor(config))
    pipeline = Pipeline(
        cohort,
        CsvSink(opts.out),
        extra_sinks,
        tick_every=timedelta(minutes=opts.tick_minutes),
        per_patient_clock=True,
    )
    position = FilePosition(opts.input)
    with LiveDisplay(console, total=position.size, description=f"replay {opts.input.name}") as live:

        def read() -> Iterator[Item]:
            for n, item in enumerate(_with_profiles(reader, cohort), 1):
                if n % PROGRESS_EVERY == 0:
                    live.update(position.read(), f"{n:,} rows")
                yield item
            live.update(position.size, "done", force=True)

        ordered = replay_items(
            read(), lateness=timedelta(minutes=opts.lateness_minutes), max_buffered=opts.max_buffered
        )
        summary, evaluation = run_with_evaluation(
            pipeline, readings_only(ordered, pipeline), lambda: reader.labels
        )
    report = None
    if opts.report:
        report = write_report(
            opts.out,
            ReportInput(
                title=f"Vigil replay: {opts.input.name}",
                subtitle=f"format {opts.fmt}; {len(reader.labels)} labelled episode(s) in the file",
                facts=summary.facts(),
                patients=sorted(summary.patients),
                episodes=reader.labels,
                evaluation=evaluation,
                settings={f"detectors.{k}": v for k, v in settings.detectors.model_dump().items()}
                | {
                    "replay.lateness_minutes": opts.lateness_minutes,
                    "replay.max_buffered": opts.max_buffered,
                },
            ),
        )
    return RunResult(summary, opts.out, report, evaluation)


def _with_profiles(reader: Reader, cohort: CohortMonitor) -> Iterable[Item]:
    """The reader's items; profiles it learns (age, SpO2 scale) reach the cohort before their readings."""
    known = 0
    for item in reader:
        profiles = reader.profiles
        if len(profiles) > known:
            for p in profiles[known:]:
                cohort.profiles.setdefault(p.patient_id, p)
            known = len(profiles)
        yield item
