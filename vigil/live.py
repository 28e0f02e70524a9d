"""The live terminal view of a run: patients as rows with latest vitals, NEWS2 and active alerts.

:class:`WardView` is a result sink that keeps, per patient, the latest value of the
main vitals, the NEWS2 total and the active alerts; :meth:`WardView.table` renders
them as a rich table coloured by severity, the most urgent patients first.
:class:`LiveDisplay` shows that table under a progress bar with rich ``Live`` when
stdout is a terminal, and stays silent otherwise (the caller prints a summary).

>>> from datetime import UTC, datetime
>>> from detectors.cohort import CohortMonitor, PatientMonitor
>>> from ingest.reading import make_reading
>>> view = WardView()
>>> t = datetime(2024, 1, 1, tzinfo=UTC)
>>> r = make_reading(patient_id="p1", device_id="w1", metric="heart_rate", value=72, time=t)
>>> view.output(r, CohortMonitor(PatientMonitor()).process(r))
>>> view.rows()[0].patient_id, view.rows()[0].vitals["heart_rate"], view.rows()[0].news2
('p1', 72.0, 0)
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import TracebackType

from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from detectors.events import AlertEvent, AlertStatus, Severity
from detectors.monitor import MonitorOutput
from ingest.metrics import Metric
from ingest.reading import Reading

VITALS: tuple[tuple[Metric, str, str], ...] = (
    (Metric.HEART_RATE, "HR", "{:.0f}"),
    (Metric.RESPIRATORY_RATE, "RR", "{:.0f}"),
    (Metric.SPO2, "SpO2", "{:.0f}"),
    (Metric.SYSTOLIC_BP, "SBP", "{:.0f}"),
    (Metric.BODY_TEMPERATURE, "Temp", "{:.1f}"),
    (Metric.BLOOD_GLUCOSE, "Gluc", "{:.1f}"),
)
SEVERITY_STYLE = {
    Severity.INFO: "blue",
    Severity.LOW: "yellow",
    Severity.MEDIUM: "dark_orange",
    Severity.HIGH: "bold red",
}
_TRACKED = {m.value for m, _, _ in VITALS}


def news2_style(total: int | None) -> str:
    """Colour for a NEWS2 total: 0–4 green, 5–6 orange (urgent review), 7+ red (emergency).

    >>> news2_style(2), news2_style(5), news2_style(9)
    ('green', 'dark_orange', 'bold red')
    """
    if total is None:
        return "dim"
    return "bold red" if total >= 7 else "dark_orange" if total >= 5 else "green"


@dataclass(slots=True)
class PatientRow:
    """What the live view knows about one patient."""

    patient_id: str
    vitals: dict[str, float] = field(default_factory=dict)
    news2: int | None = None
    active: dict[str, AlertEvent] = field(default_factory=dict)
    alerts_raised: int = 0

    @property
    def top_severity(self) -> Severity | None:
        return max((e.severity for e in self.active.values()), default=None)

    def urgency(self) -> tuple[int, int, str]:
        sev = self.top_severity
        return (-(sev + 1 if sev is not None else 0), -(self.news2 or 0), self.patient_id)


class WardView:
    """A result sink keeping the latest vitals, NEWS2 and active alerts of every patient."""

    def __init__(self) -> None:
        self._rows: dict[str, PatientRow] = {}

    def _row(self, patient_id: str) -> PatientRow:
        row = self._rows.get(patient_id)
        if row is None:
            row = self._rows[patient_id] = PatientRow(patient_id)
        return row

    def output(self, reading: Reading, out: MonitorOutput) -> None:
        row = self._row(reading.patient_id)
        if reading.metric.value in _TRACKED and reading.usable and out.scored is not None:
            row.vitals[reading.metric.value] = reading.value
        if out.news2 is not None:
            row.news2 = out.news2.total

    def events(self, events: Iterable[AlertEvent]) -> None:
        for e in events:
            row = self._row(e.patient_id)
            if e.status is AlertStatus.RESOLVED:
                row.active.pop(e.alert_id, None)
            else:
                row.alerts_raised += e.status is AlertStatus.RAISED
                row.active[e.alert_id] = e

    def rows(self) -> list[PatientRow]:
        """Patients, most urgent first (highest active severity, then NEWS2)."""
        return sorted(self._rows.values(), key=PatientRow.urgency)

    def table(self, max_rows: int = 30) -> Table:
        """The ward as a rich table of at most ``max_rows`` patients."""
        rows = self.rows()
        table = Table(expand=True, header_style="bold", caption=_caption(len(rows), max_rows))
        table.add_column("Patient", no_wrap=True)
        for _, label, _ in VITALS:
            table.add_column(label, justify="right")
        table.add_column("NEWS2", justify="right")
        table.add_column("Active alerts", ratio=1)
        for row in rows[:max_rows]:
            sev = row.top_severity
            cells: list[Text | str] = [
                Text(row.patient_id, style=SEVERITY_STYLE[sev] if sev is not None else "")
            ]
            for metric, _, fmt in VITALS:
                v = row.vitals.get(metric.value)
                cells.append("" if v is None else fmt.format(v))
            cells.append(Text("" if row.news2 is None else str(row.news2), style=news2_style(row.news2)))
            cells.append(_alerts_text(row.active.values()))
            table.add_row(*cells)
        return table


def _caption(n: int, max_rows: int) -> str:
    return f"{n - max_rows} more patients without more urgent state" if n > max_rows else ""


def _alerts_text(active: Iterable[AlertEvent]) -> Text:
    text = Text()
    for e in sorted(active, key=lambda e: -e.severity):
        label = f"{e.kind.value}:{e.metric}" if e.metric else e.kind.value
        text.append(f"{label} ", style=SEVERITY_STYLE[e.severity])
    return text


class LiveDisplay:
    """A progress bar (and optionally the ward table) shown with rich ``Live`` on a terminal.

    Off a terminal (CI, pipes) it shows nothing; :attr:`enabled` tells which. Refreshes are
    throttled to ``fps`` so drawing never dominates the run.
    """

    def __init__(
        self,
        console: Console,
        *,
        total: float,
        description: str,
        ward: WardView | None = None,
        fps: float = 8.0,
        max_rows: int = 30,
    ) -> None:
        self.enabled = console.is_terminal
        self._ward = ward
        self._max_rows = max_rows if max_rows is not None else max(5, console.size.height - 10)
        self._period = 1.0 / fps
        self._next_draw = 0.0
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=console,
        )
        self._task = self._progress.add_task(description, total=total, status="")
        self._live = Live(self._renderable(), console=console, auto_refresh=False, transient=False)

    def __enter__(self) -> LiveDisplay:
        if self.enabled:
            self._live.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.enabled:
            self._live.update(self._renderable(), refresh=True)
            self._live.stop()

    def _renderable(self) -> Group:
        if self._ward is None:
            return Group(self._progress)
        return Group(self._progress, self._ward.table(self._max_rows))

    def update(self, completed: float, status: str = "", *, force: bool = False) -> None:
        """Move the bar to ``completed``; redraw at most ``fps`` times a second."""
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now < self._next_draw:
            return
        self._next_draw = now + self._period
        self._progress.update(self._task, completed=completed, status=status)
        self._live.update(self._renderable(), refresh=True)
