"""The HTML report from an output folder: self-contained, with detection, overview and per-patient panels."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from detectors.evaluation import Alert, evaluate
from detectors.events import AlertEvent, AlertStatus, ScoredReading, Severity
from detectors.monitor import MonitorOutput
from ingest.episodes import Episode
from vigil.report import ReportInput, write_report
from vigil.runner import CsvSink


def _folder(
    tmp_path: Path, make_scored: Callable[..., ScoredReading], make_transition: Callable[..., AlertEvent]
) -> Path:
    sink = CsvSink(tmp_path)
    for pid in ("p1", "p2", "p3"):
        for i in range(40):
            s = make_scored(pid, "spo2", 96 - (i > 30) * 8, 10 * i, score=0.9 if i > 30 else 0.1)
            sink.output(s.reading, MonitorOutput(s, None, []))
    sink.events([make_transition("p2", AlertStatus.RAISED, 320, start_minutes=320, severity=Severity.HIGH)])
    sink.close()
    return tmp_path


def test_report_is_self_contained_with_sections_and_chosen_patients(
    tmp_path: Path, make_scored: Callable[..., ScoredReading], make_transition: Callable[..., AlertEvent]
) -> None:
    out = _folder(tmp_path, make_scored, make_transition)
    first = make_scored("p3", "spo2", 90, 300).reading.time
    episode = Episode(patient_id="p3", kind="desaturation", start=first, end=first + timedelta(hours=1))
    ev = evaluate(
        [Alert("p2", "hard_limit", first)],
        [episode],
        {p: (first, first + timedelta(days=1)) for p in ("p1", "p2", "p3")},
    )
    path = write_report(out, ReportInput(title="T <x>", subtitle="s", facts={"patients": 3},
                                         patients=["p1", "p2", "p3"], episodes=[episode], evaluation=ev),
                        max_panels=2)  # fmt: skip
    html = path.read_text(encoding="utf-8")
    assert re.search(r"<script[^>]*\bsrc=", html) is None  # plotly.js inline
    assert "T &lt;x&gt;" in html  # escaped
    for heading in ("Detection vs ground truth", "Alerts", "Cohort overview", "Patients (2 of 3)"):
        assert heading in html
    assert "Patient p3" in html and "Patient p2" in html and "Patient p1" not in html  # episode, alert first
    assert "expected band" in html


def test_report_without_alerts_or_labels_still_renders(
    tmp_path: Path, make_scored: Callable[..., ScoredReading], make_transition: Callable[..., AlertEvent]
) -> None:
    sink = CsvSink(tmp_path)
    s = make_scored("p1", "heart_rate", 70, 0)
    sink.output(s.reading, MonitorOutput(s, None, []))
    sink.close()
    html = write_report(tmp_path, ReportInput(title="t", subtitle="", facts={}, patients=["p1"])).read_text()
    assert "Patients (1 of 1)" in html and "Cohort overview" not in html
