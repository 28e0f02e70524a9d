"""The embedded pipeline driver behind ``vigil demo`` and ``vigil replay``: no servers needed.

:class:`Pipeline` pushes readings through the same :class:`detectors.cohort.CohortMonitor`
(and so the same ``PatientMonitor``) the stream worker uses, advances event-time ticks,
and hands every result to its sinks (CSV files, the live view, InfluxDB).
:func:`replay_items` puts a recorded file's readings into event-time order per patient
with a bounded :class:`vigil.reorder.ReorderBuffer`.

>>> from datetime import UTC, datetime, timedelta
>>> clock = TickClock(timedelta(minutes=5))
>>> t0 = datetime(2024, 1, 1, tzinfo=UTC)
>>> clock.due(t0), clock.due(t0 + timedelta(minutes=2)), clock.due(t0 + timedelta(minutes=6))
(None, None, datetime.datetime(2024, 1, 1, 0, 5, tzinfo=datetime.timezone.utc))
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, Protocol, cast

from detectors.cohort import CohortMonitor
from detectors.evaluation import DEFAULT_ONSET_OFFSET, Evaluation, evaluate, run_cohort
from detectors.events import AlertEvent, AlertStatus
from detectors.monitor import MonitorOutput
from ingest.episodes import Episode
from ingest.reading import Reading
from vigil.outputs import AlertsWriter, RejectedWriter, ScoresWriter
from vigil.reorder import ReorderBuffer


class RejectedLike(Protocol):
    """The shape of a reader's ``RejectedRow``."""

    @property
    def location(self) -> str: ...
    @property
    def reason(self) -> str: ...
    @property
    def raw(self) -> Any: ...


class ResultSink(Protocol):
    """Where results go besides the CSV files: what each reading produced, and every alert transition."""

    def output(self, reading: Reading, out: MonitorOutput) -> None: ...
    def events(self, events: Iterable[AlertEvent]) -> None: ...


@dataclass(slots=True)
class TickClock:
    """Says when an event-time clock crosses a multiple of ``every`` (as the stream worker ticks).

    Boundaries are aligned to the Unix epoch, so the same input ticks at the same times
    however it is batched; ``latest`` is the newest time seen.
    """

    every: timedelta
    latest: datetime | None = None
    _boundary: float | None = None

    def due(self, now: datetime) -> datetime | None:
        """The boundary to tick at before processing a reading at ``now`` (None if none was crossed)."""
        if self.latest is None or now > self.latest:
            self.latest = now
        step = self.every.total_seconds()
        boundary = (now.timestamp() // step) * step
        if self._boundary is None:
            self._boundary = boundary
            return None
        if boundary <= self._boundary:
            return None
        self._boundary = boundary
        return datetime.fromtimestamp(boundary, UTC)


@dataclass(slots=True)
class RunSummary:
    """Counts and timings of one run (no patient data)."""

    readings: int = 0
    scored: int = 0
    duplicates: int = 0
    rejected: int = 0
    alerts_raised: int = 0
    alerts_resolved: int = 0
    first_time: datetime | None = None
    last_time: datetime | None = None
    wall_seconds: float = 0.0
    patients: set[str] = field(default_factory=set)

    @property
    def readings_per_second(self) -> float:
        return self.readings / self.wall_seconds if self.wall_seconds > 0 else 0.0

    def facts(self) -> dict[str, object]:
        """The summary as ordered (label, value) pairs for the report and the terminal."""
        return {
            "patients": len(self.patients),
            "readings processed": self.readings,
            "readings scored": self.scored,
            "duplicates ignored": self.duplicates,
            "rejected inputs": self.rejected,
            "alerts raised": self.alerts_raised,
            "alerts resolved": self.alerts_resolved,
            "event time from": _iso(self.first_time),
            "event time to": _iso(self.last_time),
            "wall time (s)": round(self.wall_seconds, 2),
            "readings/s": round(self.readings_per_second),
        }


def _iso(t: datetime | None) -> str:
    return "" if t is None else t.isoformat().replace("+00:00", "Z")


class CsvSink:
    """Writes ``scores.csv``, ``alerts.csv`` and ``rejected.csv`` into an output folder."""

    def __init__(self, out_dir: Path) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        self.out_dir = out_dir
        self._files: list[IO[str]] = [
            (out_dir / name).open("w", newline="", encoding="utf-8")
            for name in ("scores.csv", "alerts.csv", "rejected.csv")
        ]
        self.scores = ScoresWriter(self._files[0])
        self.alerts = AlertsWriter(self._files[1])
        self.rejects = RejectedWriter(self._files[2])

    def output(self, reading: Reading, out: MonitorOutput) -> None:
        if out.scored is not None:
            self.scores.write(out.scored, out.news2.total if out.news2 is not None else None)

    def events(self, events: Iterable[AlertEvent]) -> None:
        self.alerts.write_events(events)

    def rejected(self, row: RejectedLike) -> None:
        self.rejects.write(row.location, row.reason, _raw_text(row.raw))

    def raised_events(self) -> list[AlertEvent]:
        """The first (raising) event of every alert, for the evaluation against ground truth."""
        return [row.first for row in self.alerts.rows]

    def close(self) -> None:
        self.scores.close()
        self.alerts.close()
        self.rejects.close()
        for f in self._files:
            f.close()


def _raw_text(raw: Any) -> str:
    if raw is None:
        return ""
    if isinstance(raw, bytes):
        return raw.decode("utf-8", "replace")
    return raw if isinstance(raw, str) else repr(raw)


class Pipeline:
    """Drives readings through a cohort monitor and fans the results out to the CSV files and other sinks.

    Ticks (behaviour days, escalation, snooze ends, time-based resolves) follow event time:
    before a reading that moves a clock past a multiple of ``tick_every``, as in the worker.
    With ``per_patient_clock=False`` (a live-like stream such as the simulated ward, where all
    patients share one clock) the whole cohort ticks when the newest reading time has
    advanced ``tick_every``. With ``per_patient_clock=True`` (recorded files, where each
    patient has their own time line, e.g. hours since admission) each patient ticks on their
    own readings' times. Every clock ticks once more at :meth:`finish`.
    """

    def __init__(
        self,
        cohort: CohortMonitor,
        csv: CsvSink,
        sinks: Sequence[ResultSink] = (),
        *,
        tick_every: timedelta = timedelta(minutes=5),
        per_patient_clock: bool = False,
    ) -> None:
        self.cohort = cohort
        self.csv = csv
        self.sinks = list(sinks)
        self.summary = RunSummary()
        self._tick_every = tick_every
        self._clock = TickClock(tick_every)
        self._patient_clocks: dict[str, TickClock] | None = {} if per_patient_clock else None
        self._started = time.perf_counter()

    def process(self, reading: Reading) -> MonitorOutput:
        """Process one reading; the output's events include those of any tick run just before it.

        This makes the pipeline usable wherever a ``CohortMonitor`` is driven reading by
        reading (e.g. :func:`detectors.evaluation.run_cohort` with ``tick=False``).
        """
        s = self.summary
        s.readings += 1
        s.patients.add(reading.patient_id)
        tick_events = self._advance(reading.patient_id, reading.time)
        out = self.cohort.process(reading)
        if out.scored is None:
            s.duplicates += 1
        else:
            s.scored += 1
        self.csv.output(reading, out)
        for sink in self.sinks:
            sink.output(reading, out)
        if out.events:
            self._emit(out.events)
        t = reading.time
        if s.first_time is None or t < s.first_time:
            s.first_time = t
        if s.last_time is None or t > s.last_time:
            s.last_time = t
        return MonitorOutput(out.scored, out.news2, tick_events + out.events) if tick_events else out

    def _advance(self, patient_id: str, t: datetime) -> list[AlertEvent]:
        if self._patient_clocks is None:
            due = self._clock.due(t)
            return [] if due is None else self.tick(due)
        clock = self._patient_clocks.get(patient_id)
        if clock is None:
            clock = self._patient_clocks[patient_id] = TickClock(self._tick_every)
        due = clock.due(t)
        return [] if due is None else self._tick_patient(patient_id, due)

    def reject(self, row: RejectedLike) -> None:
        self.summary.rejected += 1
        self.csv.rejected(row)

    def tick(self, now: datetime) -> list[AlertEvent]:
        """Advance the whole cohort's event time to ``now``."""
        events = self.cohort.tick(now)
        if events:
            self._emit(events)
        return events

    def _tick_patient(self, patient_id: str, now: datetime) -> list[AlertEvent]:
        events = self.cohort.monitor.tick(self.cohort.state(patient_id), now)
        if events:
            self._emit(events)
        return events

    def _emit(self, events: list[AlertEvent]) -> None:
        for e in events:
            if e.status is AlertStatus.RAISED:
                self.summary.alerts_raised += 1
            elif e.status is AlertStatus.RESOLVED:
                self.summary.alerts_resolved += 1
        self.csv.events(events)
        for sink in self.sinks:
            sink.events(events)

    def finish(self) -> RunSummary:
        """A last tick at the newest event time of each clock, then close the files; returns the summary."""
        if self._patient_clocks is not None:
            for patient_id, clock in self._patient_clocks.items():
                if clock.latest is not None:
                    self._tick_patient(patient_id, clock.latest)
        elif self._clock.latest is not None:
            self.tick(self._clock.latest)
        self.csv.close()
        self.summary.wall_seconds = time.perf_counter() - self._started
        return self.summary


def replay_items(
    items: Iterable[Reading | RejectedLike], *, lateness: timedelta, max_buffered: int
) -> Iterator[Reading | RejectedLike]:
    """A reader's items with readings put in event-time order per patient (rejections pass straight on)."""
    buffer: ReorderBuffer[Reading] = ReorderBuffer(
        lateness=lateness, key=_patient_of, time=_time_of, max_buffered=max_buffered
    )
    for item in items:
        if isinstance(item, Reading):
            yield from buffer.push(item)
        else:
            yield item
    yield from buffer.drain()


def readings_only(items: Iterable[Reading | RejectedLike], pipeline: Pipeline) -> Iterator[Reading]:
    """The readings of a reader's items; each rejected input is recorded by the pipeline on the way."""
    for item in items:
        if isinstance(item, Reading):
            yield item
        else:
            pipeline.reject(item)


def _patient_of(r: Reading) -> str:
    return r.patient_id


def _time_of(r: Reading) -> datetime:
    return r.time


def run_with_evaluation(
    pipeline: Pipeline,
    readings: Iterable[Reading],
    episodes: Callable[[], Sequence[Episode]],
    *,
    onset_offset: Mapping[str, timedelta] = DEFAULT_ONSET_OFFSET,
) -> tuple[RunSummary, Evaluation]:
    """Drive ``pipeline`` with the evaluation loop; returns the summary and detection vs ``episodes``.

    ``episodes`` is called after the readings are consumed (a reader learns its labels as it reads);
    ``onset_offset`` per episode kind says how long after a label's start the clinical onset is.
    """
    run = run_cohort(cast(CohortMonitor, pipeline), readings, tick=False)
    summary = pipeline.finish()
    return summary, evaluate(run.alerts, episodes(), run.exposure, onset_offset=onset_offset)


@dataclass(frozen=True, slots=True)
class RunResult:
    """What a run produced: its summary, output folder, report and detection vs ground truth."""

    summary: RunSummary
    out_dir: Path
    report: Path | None
    evaluation: Evaluation | None


def write_episodes(path: Path, episodes: Iterable[Episode]) -> None:
    """Ground-truth episodes as JSON lines (for later evaluation of a streamed run)."""
    with path.open("wb") as f:
        for e in episodes:
            f.write(e.to_json() + b"\n")
