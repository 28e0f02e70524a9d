"""The live ward view: latest vitals, NEWS2 and active alerts, most urgent first; silent off a terminal."""

from __future__ import annotations

import io
from collections.abc import Callable

from rich.console import Console

from detectors.events import AlertEvent, AlertStatus, ScoredReading, Severity
from detectors.monitor import MonitorOutput
from detectors.news2 import score
from vigil.live import LiveDisplay, WardView


def test_rows_are_ordered_by_active_severity_then_news2(
    make_scored: Callable[..., ScoredReading], make_transition: Callable[..., AlertEvent]
) -> None:
    view = WardView()
    for pid, news2 in (("p1", score(pulse=95)), ("p2", score(pulse=135, respiration_rate=25)), ("p3", None)):
        s = make_scored(pid, "heart_rate", 80, 0)
        view.output(s.reading, MonitorOutput(s, news2, []))
    view.events([make_transition("p3", AlertStatus.RAISED, 0, severity=Severity.HIGH)])
    assert [(r.patient_id, r.news2) for r in view.rows()] == [("p3", None), ("p2", 6), ("p1", 1)]
    view.events([make_transition("p3", AlertStatus.RESOLVED, 30, severity=Severity.HIGH)])
    assert [r.patient_id for r in view.rows()] == ["p2", "p1", "p3"]
    assert view.rows()[2].alerts_raised == 1


def test_table_shows_vitals_and_alerts_and_caps_rows(
    make_scored: Callable[..., ScoredReading], make_transition: Callable[..., AlertEvent]
) -> None:
    view = WardView()
    for i in range(5):
        s = make_scored(f"p{i}", "spo2", 90 + i, 0)
        view.output(s.reading, MonitorOutput(s, None, []))
    view.events([make_transition("p0", AlertStatus.RAISED, 0)])
    console = Console(file=io.StringIO(), width=140, force_terminal=False)
    console.print(view.table(max_rows=3))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "hard_limit:spo2" in text and "90" in text
    assert "2 more patients" in text and "p4" not in text


def test_live_display_draws_nothing_off_a_terminal() -> None:
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=False)
    with LiveDisplay(console, total=10, description="x", ward=WardView()) as live:
        assert not live.enabled
        live.update(5, force=True)
    assert buf.getvalue() == ""


def test_live_display_draws_progress_on_a_terminal() -> None:
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=100, height=30)
    with LiveDisplay(console, total=10, description="simulated time", ward=WardView()) as live:
        live.update(5, "Mon 12:00", force=True)
    assert "simulated time" in buf.getvalue() and "Mon 12:00" in buf.getvalue()
