"""The CSV files a demo or replay run writes: ``scores.csv``, ``alerts.csv`` and ``rejected.csv``.

``scores.csv``
    One row per accepted reading, canonical units, with the anomaly score in [0, 1],
    the patient's learned expected range and the NEWS2 total current at that reading.
``alerts.csv``
    One row per alert (not per transition): when it started and ended (empty while
    still active at the end of the data), its first and highest severity, and the
    evidence from the moment it was raised.
``rejected.csv``
    One row per input that could not become a reading: where (file and line), why,
    and the raw text.

Rows are written with the :mod:`csv` module in batches.

>>> import io
>>> from datetime import UTC, datetime
>>> from detectors.events import AlertEvent, AlertKind, AlertStatus, Severity
>>> t0 = datetime(2024, 1, 1, tzinfo=UTC)
>>> raised = AlertEvent("al-1", "p1", AlertKind.HARD_LIMIT, AlertStatus.RAISED, Severity.MEDIUM, t0, t0,
...                     "SpO2 87 % below 88 %", metric="spo2", value=87.0)
>>> buf = io.StringIO()
>>> alerts = AlertsWriter(buf)
>>> alerts.write_events([raised])
>>> alerts.close()
>>> buf.getvalue().splitlines()[1].split(",")[:7]
['p1', '2024-01-01T00:00:00Z', '', 'medium', 'hard_limit', 'spo2', 'SpO2 87 % below 88 %']
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from detectors.events import AlertEvent, AlertStatus, ScoredReading, Severity

SCORES_COLUMNS = (
    "patient_id", "metric", "timestamp", "value", "unit", "score", "expected_low", "expected_high",
    "warm", "news2", "quality", "device_id", "reading_id",
)  # fmt: skip
ALERTS_COLUMNS = (
    "patient_id", "start", "end", "severity", "kind", "metric", "message", "alert_id", "max_severity",
    "status", "value", "expected_low", "expected_high", "score", "news2_total", "late", "escalations",
    "acknowledged_by",
)  # fmt: skip
REJECTED_COLUMNS = ("location", "reason", "raw")

BATCH_ROWS = 5000


def iso(t: datetime | None) -> str:
    """A UTC time as ISO 8601 with ``Z``; empty for None.

    >>> iso(datetime(2024, 5, 1, 7, 30, tzinfo=UTC))
    '2024-05-01T07:30:00Z'
    """
    return "" if t is None else t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _num(x: float | None, digits: int = 6) -> str:
    return "" if x is None else f"{x:.{digits}g}"


class _BatchedCsv:
    """A csv writer that buffers rows and writes them in batches."""

    def __init__(self, stream: IO[str], columns: tuple[str, ...]) -> None:
        self._stream = stream
        self._writer = csv.writer(stream, lineterminator="\n")
        self._writer.writerow(columns)
        self._rows: list[tuple[object, ...]] = []
        self.rows_written = 0

    def add(self, row: tuple[object, ...]) -> None:
        self._rows.append(row)
        if len(self._rows) >= BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        self._writer.writerows(self._rows)
        self.rows_written += len(self._rows)
        self._rows.clear()
        self._stream.flush()


class ScoresWriter:
    """Writes one ``scores.csv`` row per accepted (scored) reading.

    The hot path of a replay: a row is formatted as text directly (what ``csv.writer`` would
    write, which it still does for a row with a character that needs quoting), a reading's
    time string is reused for the next reading at the same time (a PhysioNet row gives six),
    and rows are written :data:`BATCH_ROWS` at a time.
    """

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._csv = csv.writer(stream, lineterminator="\n")
        self._csv.writerow(SCORES_COLUMNS)
        self._lines: list[str] = []
        self._time: datetime | None = None
        self._time_text = ""
        self.rows_written = 0

    def write(self, scored: ScoredReading, news2_total: int | None) -> None:
        r = scored.reading
        if r.time != self._time:
            self._time, self._time_text = r.time, iso(r.time)
        low, high = scored.expected_low, scored.expected_high
        row = (
            r.patient_id,
            r.metric.value,
            self._time_text,
            f"{r.value:.6g}",
            r.unit,
            f"{scored.score:.4f}",
            "" if low is None else f"{low:.5g}",
            "" if high is None else f"{high:.5g}",
            "1" if scored.warm else "0",
            "" if news2_total is None else str(news2_total),
            ";".join(sorted(q.value for q in r.quality)) if r.quality else "",
            r.device_id,
            r.reading_id,
        )
        line = ",".join(row)
        if line.count(",") != len(SCORES_COLUMNS) - 1 or '"' in line or "\n" in line or "\r" in line:
            # a field with a comma, quote or line break: csv.writer quotes it
            self.flush()
            self._csv.writerow(row)
            self.rows_written += 1
            return
        self._lines.append(line)
        if len(self._lines) >= BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        if self._lines:
            self._lines.append("")
            self._stream.write("\n".join(self._lines))
            self.rows_written += len(self._lines) - 1
            self._lines.clear()
        self._stream.flush()

    def close(self) -> None:
        self.flush()


@dataclass(slots=True)
class AlertRow:
    """One alert folded from its transitions (raised, escalated, acknowledged, snoozed, resolved)."""

    first: AlertEvent
    max_severity: Severity
    status: AlertStatus
    end: datetime | None = None
    escalations: int = 0
    acknowledged_by: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, event: AlertEvent) -> AlertRow:
        row = cls(first=event, max_severity=event.severity, status=event.status)
        row.apply(event)
        return row

    def apply(self, event: AlertEvent) -> None:
        """Fold one more transition of the same alert into the row."""
        self.status = event.status
        self.max_severity = max(self.max_severity, event.severity)
        if event.status is AlertStatus.ESCALATED:
            self.escalations += 1
        elif event.status in (AlertStatus.ACKNOWLEDGED, AlertStatus.SNOOZED) and event.actor:
            self.acknowledged_by.append(event.actor)
        elif event.status is AlertStatus.RESOLVED:
            self.end = event.end or event.time

    def as_tuple(self) -> tuple[object, ...]:
        e = self.first
        return (
            e.patient_id,
            iso(e.start),
            iso(self.end),
            e.severity.label,
            e.kind.value,
            e.metric or "",
            e.message,
            e.alert_id,
            self.max_severity.label,
            "active" if self.status is AlertStatus.RAISED else self.status.value,
            _num(e.value),
            _num(e.expected_low, 5),
            _num(e.expected_high, 5),
            "" if e.score is None else f"{e.score:.4f}",
            "" if e.news2_total is None else e.news2_total,
            int(e.late),
            self.escalations,
            ";".join(self.acknowledged_by),
        )


class AlertsWriter:
    """Folds alert transitions into one ``alerts.csv`` row per alert, written sorted at :meth:`close`.

    Alerts are far fewer than readings, so they are kept until the end: the file is
    then ordered by patient and start time, and an alert still active has an empty ``end``.
    """

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._rows: dict[str, AlertRow] = {}

    def write_events(self, events: Iterable[AlertEvent]) -> None:
        for event in events:
            row = self._rows.get(event.alert_id)
            if row is None:
                self._rows[event.alert_id] = AlertRow.start(event)
            else:
                row.apply(event)

    @property
    def rows(self) -> list[AlertRow]:
        """The alerts so far, ordered by patient and start time."""
        return sorted(self._rows.values(), key=alert_order)

    def close(self) -> None:
        write_alert_rows(self._stream, self.rows)


def alert_order(row: AlertRow) -> tuple[str, datetime, str]:
    """The order of ``alerts.csv``: patient, start, alert id."""
    return (row.first.patient_id, row.first.start, row.first.alert_id)


def write_alert_rows(stream: IO[str], rows: Iterable[AlertRow]) -> None:
    """Write ``alerts.csv`` (header and the rows, already in :func:`alert_order`)."""
    out = _BatchedCsv(stream, ALERTS_COLUMNS)
    for row in rows:
        out.add(row.as_tuple())
    out.flush()


class RejectedWriter:
    """Writes one ``rejected.csv`` row per input that could not become a reading."""

    def __init__(self, stream: IO[str]) -> None:
        self._csv = _BatchedCsv(stream, REJECTED_COLUMNS)

    def write(self, location: str, reason: str, raw: str | bytes | None) -> None:
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else (raw or "")
        self._csv.add((location, reason, text.rstrip("\r\n")))

    @property
    def rows_written(self) -> int:
        return self._csv.rows_written

    def close(self) -> None:
        self._csv.flush()


def read_rows(path: Path) -> Iterator[dict[str, str]]:
    """Stream the rows of an output CSV as dicts (for the report and for tests)."""
    with path.open(newline="", encoding="utf-8") as f:
        yield from csv.DictReader(f)


def as_float(text: str) -> float | None:
    """A CSV cell as a float, None when empty.

    >>> as_float(""), as_float("1.5")
    (None, 1.5)
    """
    return float(text) if text else None
