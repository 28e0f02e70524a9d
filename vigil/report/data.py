"""What the report shows, loaded back from a run's output folder (``alerts.csv``, ``scores.csv``).

The report is built from the files a run wrote, so a large replay never keeps its
readings in memory: ``scores.csv`` is streamed and only the chosen patients' rows are kept.

>>> from datetime import UTC, datetime
>>> alerts = [AlertSpan("p2", "news2", "", "high", datetime(2024, 1, 1, tzinfo=UTC), None, "NEWS2 7")] * 2
>>> episodes = [Episode(patient_id="p3", kind="sepsis", start=datetime(2024, 1, 1, tzinfo=UTC))]
>>> choose_patients(alerts, episodes, ["p1", "p2", "p3", "p4"], limit=3, quiet=1)
['p3', 'p2', 'p1']
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ingest.episodes import Episode
from ingest.reading import parse_time
from vigil.outputs import as_float, read_rows


@dataclass(frozen=True, slots=True)
class AlertSpan:
    """One row of ``alerts.csv``, as the report needs it."""

    patient_id: str
    kind: str
    metric: str
    severity: str  # the highest severity the alert reached
    start: datetime
    end: datetime | None
    message: str
    value: float | None = None


@dataclass(slots=True)
class Series:
    """One patient's readings of one metric: times, values and the learned expected band."""

    times: list[datetime] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    low: list[float | None] = field(default_factory=list)
    high: list[float | None] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)


@dataclass(slots=True)
class PatientTrace:
    """Everything plotted for one patient."""

    patient_id: str
    series: dict[str, Series] = field(default_factory=dict)
    news2_times: list[datetime] = field(default_factory=list)
    news2: list[int] = field(default_factory=list)


def load_alerts(path: Path) -> list[AlertSpan]:
    """Read ``alerts.csv``."""
    return [
        AlertSpan(
            patient_id=row["patient_id"],
            kind=row["kind"],
            metric=row["metric"],
            severity=row.get("max_severity") or row["severity"],
            start=parse_time(row["start"]),
            end=parse_time(row["end"]) if row["end"] else None,
            message=row["message"],
            value=as_float(row["value"]),
        )
        for row in read_rows(path)
    ]


def choose_patients(
    alerts: Sequence[AlertSpan],
    episodes: Sequence[Episode],
    all_patients: Iterable[str],
    *,
    limit: int = 12,
    quiet: int = 2,
) -> list[str]:
    """Patients worth a per-patient plot: with episodes first, then the most alerts, then a few quiet ones.

    Up to ``quiet`` (at most a third of ``limit``) places are kept for patients without
    alerts or episodes, for contrast; places they do not fill go to the others.
    """
    with_episodes = [e.patient_id for e in episodes]
    by_alerts = [p for p, _ in Counter(a.patient_id for a in alerts).most_common()]
    interesting = list(dict.fromkeys([*with_episodes, *by_alerts]))
    first = limit - min(quiet, limit // 3)
    chosen = interesting[:first]
    listed = set(interesting)
    chosen += [p for p in sorted(set(all_patients)) if p not in listed][: limit - len(chosen)]
    return chosen + interesting[first : first + limit - len(chosen)]


def load_traces(path: Path, patients: Iterable[str], *, max_points: int = 3000) -> dict[str, PatientTrace]:
    """Stream ``scores.csv`` keeping only the given patients' rows (at most ``max_points`` per series)."""
    traces = {p: PatientTrace(p) for p in patients}
    counts: defaultdict[tuple[str, str], int] = defaultdict(int)
    for row in read_rows(path):
        trace = traces.get(row["patient_id"])
        if trace is None:
            continue
        metric = row["metric"]
        counts[trace.patient_id, metric] += 1
        if counts[trace.patient_id, metric] > max_points:
            continue
        t = parse_time(row["timestamp"])
        s = trace.series.setdefault(metric, Series())
        s.times.append(t)
        s.values.append(float(row["value"]))
        s.low.append(as_float(row["expected_low"]))
        s.high.append(as_float(row["expected_high"]))
        s.scores.append(float(row["score"]))
        news2 = row.get("news2", "")
        if news2 and (not trace.news2 or trace.news2_times[-1] != t):
            trace.news2_times.append(t)
            trace.news2.append(int(news2))
    return traces
