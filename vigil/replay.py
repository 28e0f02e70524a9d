"""``vigil replay``: recorded data through the real detectors, in event-time order per patient.

A reader from :mod:`ingest.readers` streams the file (never loaded whole); a bounded
reorder buffer puts each patient's readings in event-time order (readings later than
the lateness window are still processed, and the monitor marks them late); the
pipeline writes ``scores.csv``, ``alerts.csv``, ``rejected.csv`` and ``report.html``,
with detection against the file's labels when it has any (e.g. PhysioNet ``SepsisLabel``).
"""

from __future__ import annotations

import contextlib
import csv
import heapq
import multiprocessing as mp
import os
import pickle
import shutil
import time
import traceback
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

from rich.console import Console

from detectors.cohort import CohortMonitor
from detectors.evaluation import DEFAULT_ONSET_OFFSET, Alert, Evaluation, evaluate, run_cohort
from detectors.monitor import PatientMonitor
from ingest.episodes import Episode
from ingest.readers import Item, Reader, open_reader
from ingest.reading import Reading
from vigil.live import LiveDisplay
from vigil.outputs import AlertRow, alert_order, write_alert_rows
from vigil.runner import (
    CsvSink,
    Pipeline,
    ResultSink,
    RunResult,
    RunSummary,
    readings_only,
    replay_items,
    run_with_evaluation,
)
from vigil.runtime import tune_gc
from vigil.settings import Settings
from vigil.tuning import Tuning, monitor_config

PROGRESS_EVERY = 4096
"""Items between progress updates (reading the file position costs a system call)."""


@dataclass(frozen=True, slots=True)
class ReplayOptions:
    """What to replay and how.

    ``lateness_minutes`` is the reorder window per patient; ``max_buffered`` bounds the
    readings held for reordering (beyond it the least recently seen patient is flushed).
    ``workers`` > 1 shards patients across that many processes (see :func:`run_replay`).
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
    workers: int = 1


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
    """Replay a recorded file through the in-process pipeline; writes the output folder.

    With ``opts.workers`` > 1 the patients are sharded over that many processes (see
    :func:`_run_sharded`): every alert, score and the evaluation are the same as with one
    process, only the row order of ``scores.csv`` differs (shard by shard).
    """
    reader = open_reader(
        opts.input, opts.fmt, metric=opts.metric, patient=opts.patient, assume_utc=opts.assume_utc
    )
    if opts.workers > 1:
        if extra_sinks:
            raise ValueError("workers: --influx needs a single process (--workers 1)")
        summary, evaluation, labels = _run_sharded(opts, settings, console)
        return _finish(opts, settings, summary, evaluation, labels)
    config = monitor_config(settings, opts.tuning)
    cohort = CohortMonitor(PatientMonitor(config))
    tune_gc()
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
    return _finish(opts, settings, summary, evaluation, reader.labels)


def _finish(
    opts: ReplayOptions,
    settings: Settings,
    summary: RunSummary,
    evaluation: Evaluation | None,
    labels: Sequence[Episode],
) -> RunResult:
    """Write the report (if asked) from the output folder; the run's result."""
    from vigil.report import ReportInput, write_report

    report = None
    if opts.report:
        report = write_report(
            opts.out,
            ReportInput(
                title=f"Vigil replay: {opts.input.name}",
                subtitle=f"format {opts.fmt}; {len(labels)} labelled episode(s) in the file",
                facts=summary.facts(),
                patients=sorted(summary.patients),
                episodes=list(labels),
                evaluation=evaluation,
                settings={f"detectors.{k}": v for k, v in settings.detectors.model_dump().items()}
                | {
                    "replay.lateness_minutes": opts.lateness_minutes,
                    "replay.max_buffered": opts.max_buffered,
                    "replay.workers": opts.workers,
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


def shard_of(patient_id: str, shards: int) -> int:
    """The shard (worker) that owns a patient: CRC-32 of the id modulo ``shards`` (stable across runs).

    >>> [shard_of(p, 2) for p in ("pn-p1", "pn-p3", "pn-p4")], shard_of("pn-p1", 1)
    ([1, 1, 0], 0)
    """
    return zlib.crc32(patient_id.encode()) % shards


@dataclass(slots=True)
class _ShardResult:
    """What one worker hands back (its CSV files stay in its folder)."""

    summary: RunSummary | None = None
    alerts: list[AlertRow] = field(default_factory=list)
    raised: list[Alert] = field(default_factory=list)
    exposure: dict[str, tuple[datetime, datetime]] = field(default_factory=dict)
    labels: list[Episode] = field(default_factory=list)
    reject_index: list[int] = field(default_factory=list)
    """The input item number of each row of the shard's ``rejected.csv`` (to merge in file order)."""
    error: str | None = None
    bad_input: bool = False


def _shard_dir(out: Path, shard: int) -> Path:
    return out / f".shard-{shard}"


def _replay_shard(opts: ReplayOptions, settings: Settings, shard: int, position: Any, rows: Any) -> None:
    """One worker: the whole file is read, only this shard's patients are processed.

    Rejected inputs are recorded by shard 0 only. The result is pickled into the shard's folder.
    """
    out = _shard_dir(opts.out, shard)
    result = _ShardResult()
    tune_gc()
    try:
        reader = open_reader(
            opts.input, opts.fmt, metric=opts.metric, patient=opts.patient, assume_utc=opts.assume_utc
        )
        cohort = CohortMonitor(PatientMonitor(monitor_config(settings, opts.tuning)))
        pipeline = Pipeline(
            cohort,
            CsvSink(out),
            tick_every=timedelta(minutes=opts.tick_minutes),
            per_patient_clock=True,
        )
        where = FilePosition(opts.input)
        shards = opts.workers
        reader.keep = lambda patient_id: shard_of(patient_id, shards) == shard
        reject_index = result.reject_index

        def read() -> Iterator[Item]:
            n = 0
            for n, item in enumerate(_with_profiles(reader, cohort), 1):
                if n % PROGRESS_EVERY == 0:
                    position.value, rows.value = where.read(), n
                if isinstance(item, Reading):
                    if shard_of(item.patient_id, shards) == shard:
                        yield item
                elif shard_of(item.patient_id, shards) == shard if item.patient_id else shard == 0:
                    reject_index.append(n)
                    yield item
            position.value, rows.value = where.size, n

        ordered = replay_items(
            read(), lateness=timedelta(minutes=opts.lateness_minutes), max_buffered=opts.max_buffered
        )
        run = run_cohort(cast(CohortMonitor, pipeline), readings_only(ordered, pipeline), tick=False)
        result.summary = pipeline.finish()
        result.alerts = pipeline.csv.alerts.rows
        result.raised, result.exposure = run.alerts, run.exposure
        result.labels = list(reader.labels) if shard == 0 else []
    except Exception as exc:  # handed to the parent, which raises it
        result.error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"
        result.bad_input = isinstance(exc, ValueError)
    with (out / "result.pickle").open("wb") as f:
        pickle.dump(result, f, protocol=pickle.HIGHEST_PROTOCOL)


def _run_sharded(
    opts: ReplayOptions, settings: Settings, console: Console
) -> tuple[RunSummary, Evaluation, list[Episode]]:
    """Replay with patients sharded over ``opts.workers`` processes, then merge their outputs.

    Detector state is per patient (the multivariate detector is stateless and shared) and
    replay ticks each patient on their own clock, so a patient's alerts and scores do not
    depend on which other patients share the process. Each worker reads the whole file
    (parsing is cheap next to detection) and keeps its own patients
    (:func:`shard_of`); the parent merges ``scores.csv`` shard by shard, ``alerts.csv`` in
    the usual order, and evaluates the combined alerts against the file's labels.
    """
    started = time.perf_counter()
    opts.out.mkdir(parents=True, exist_ok=True)
    ctx: Any = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    positions = [ctx.Value("q", 0, lock=False) for _ in range(opts.workers)]
    counts = [ctx.Value("q", 0, lock=False) for _ in range(opts.workers)]
    procs = []
    for k in range(opts.workers):
        _shard_dir(opts.out, k).mkdir(parents=True, exist_ok=True)
        proc = ctx.Process(
            target=_replay_shard, args=(opts, settings, k, positions[k], counts[k]), daemon=True
        )
        proc.start()
        procs.append(proc)
    size = FilePosition(opts.input).size
    try:
        with LiveDisplay(console, total=size, description=f"replay {opts.input.name}") as live:
            while any(p.is_alive() for p in procs):
                for p in procs:
                    p.join(timeout=0.1)
                n = min(c.value for c in counts)
                live.update(min(v.value for v in positions), f"{n:,} rows x {opts.workers} workers")
            live.update(size, "done", force=True)
        results = [_load_shard(opts.out, k, p.exitcode) for k, p in enumerate(procs)]
        summary = _merge_outputs(opts.out, results)
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
        for k in range(opts.workers):
            shutil.rmtree(_shard_dir(opts.out, k), ignore_errors=True)
    exposure: dict[str, tuple[datetime, datetime]] = {}
    raised: list[Alert] = []
    for r in results:
        exposure.update(r.exposure)
        raised += r.raised
    labels = results[0].labels
    summary.wall_seconds = time.perf_counter() - started
    return summary, evaluate(raised, labels, exposure, onset_offset=DEFAULT_ONSET_OFFSET), labels


def _load_shard(out: Path, shard: int, exitcode: int | None) -> _ShardResult:
    path = _shard_dir(out, shard) / "result.pickle"
    if not path.exists():
        raise RuntimeError(f"replay worker {shard} died (exit code {exitcode}) without a result")
    with path.open("rb") as f:
        result = cast(_ShardResult, pickle.load(f))  # our own child's file
    if result.error is not None:
        if result.bad_input:
            raise ValueError(result.error.splitlines()[0].partition(": ")[2])
        raise RuntimeError(f"replay worker {shard} failed: {result.error}")
    return result


def _merge_outputs(out: Path, results: Sequence[_ShardResult]) -> RunSummary:
    """The shards' CSV files into the output folder; their summaries into one."""
    with (out / "scores.csv").open("wb") as dst:
        for k in range(len(results)):
            with (_shard_dir(out, k) / "scores.csv").open("rb") as src:
                header = src.readline()
                if k == 0:
                    dst.write(header)
                shutil.copyfileobj(src, dst, 1 << 20)
    _merge_rejected(out, results)
    with (out / "alerts.csv").open("w", newline="", encoding="utf-8") as f:
        write_alert_rows(f, heapq.merge(*(r.alerts for r in results), key=alert_order))
    total = RunSummary()
    for r in results:
        s = r.summary
        assert s is not None
        total.readings += s.readings
        total.scored += s.scored
        total.duplicates += s.duplicates
        total.rejected += s.rejected
        total.alerts_raised += s.alerts_raised
        total.alerts_resolved += s.alerts_resolved
        total.patients |= s.patients
        for t in (s.first_time, s.last_time):
            if t is not None:
                total.first_time = t if total.first_time is None else min(total.first_time, t)
                total.last_time = t if total.last_time is None else max(total.last_time, t)
    return total


def _merge_rejected(out: Path, results: Sequence[_ShardResult]) -> None:
    """The shards' ``rejected.csv`` rows in input order (as one process writes them)."""
    with contextlib.ExitStack() as stack:
        shards = []
        for k, r in enumerate(results):
            f = stack.enter_context((_shard_dir(out, k) / "rejected.csv").open(newline="", encoding="utf-8"))
            rows = csv.reader(f)
            header = next(rows)
            shards.append(zip(r.reject_index, rows, strict=True))
        with (out / "rejected.csv").open("w", newline="", encoding="utf-8") as dst:
            writer = csv.writer(dst, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(row for _, row in heapq.merge(*shards, key=lambda x: x[0]))
