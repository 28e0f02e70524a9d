"""The self-contained HTML report of a demo or replay run, built from its output folder.

:func:`write_report` reads ``alerts.csv`` and ``scores.csv`` back, chooses the patients
worth a panel (labelled episodes first, then the most alerts, then a few quiet ones) and
writes ``report.html`` with inline plotly.js, so it opens offline.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from detectors.evaluation import Evaluation
from ingest.episodes import Episode
from vigil.report.data import choose_patients, load_alerts, load_traces
from vigil.report.figures import alerts_by_kind, cohort_timeline, patient_panel
from vigil.report.page import figure_html, html_table, render_page

__all__ = ["ReportInput", "detection_table", "write_report"]

_READING_NOTE = (
    "<p class='note'>Per-patient panels: the line is the measured value (canonical unit); the blue band "
    "is the range the patient's own learned baseline expected; triangles mark where alerts were raised "
    "(coloured by severity; alerts without a metric sit on the NEWS2 row); grey spans are labelled "
    "episodes (ground truth). Hover for values, anomaly scores and alert messages.</p>"
)


@dataclass(frozen=True, slots=True)
class ReportInput:
    """What the report says besides the output files: the run's facts, episodes and detection summary."""

    title: str
    subtitle: str
    facts: Mapping[str, object]
    patients: Sequence[str]
    episodes: Sequence[Episode] = ()
    evaluation: Evaluation | None = None
    settings: Mapping[str, object] = field(default_factory=dict)


def write_report(
    out_dir: Path, spec: ReportInput, *, max_panels: int = 12, max_timeline_rows: int = 30
) -> Path:
    """Write ``out_dir/report.html`` from the run's ``alerts.csv`` and ``scores.csv``; returns its path."""
    alerts = load_alerts(out_dir / "alerts.csv")
    chosen = choose_patients(alerts, spec.episodes, spec.patients, limit=max_panels)
    traces = load_traces(out_dir / "scores.csv", chosen)
    timeline_rows = choose_patients(alerts, spec.episodes, spec.patients, limit=max_timeline_rows, quiet=0)
    ends = [a.end or a.start for a in alerts] + [e.end or e.start for e in spec.episodes]
    ends += [s.times[-1] for t in traces.values() for s in t.series.values() if s.times]

    sections: list[tuple[str, str]] = [("Run", html_table([dict(spec.facts)], "facts"))]
    if spec.evaluation is not None and spec.evaluation.rows:
        sections.append(("Detection vs ground truth", _detection_html(spec.evaluation)))
    if alerts:
        overview = figure_html(alerts_by_kind(alerts))
        if ends:
            overview += figure_html(cohort_timeline(alerts, spec.episodes, timeline_rows, max(ends)))
        sections.append(("Cohort overview", overview))
    panels = []
    for pid in chosen:
        fig = patient_panel(
            traces[pid],
            [a for a in alerts if a.patient_id == pid],
            [e for e in spec.episodes if e.patient_id == pid],
        )
        if fig is not None:
            panels.append(figure_html(fig))
    sections.append((f"Patients ({len(panels)} of {len(spec.patients)})", _READING_NOTE + "".join(panels)))
    per_kind = Counter((a.kind, a.severity) for a in alerts)
    sections.append(
        (
            "Alerts",
            html_table(
                [{"kind": k, "highest severity": s, "alerts": n} for (k, s), n in sorted(per_kind.items())]
            ),
        )
    )
    if spec.settings:
        sections.append(
            ("Settings", html_table([{"setting": k, "value": v} for k, v in spec.settings.items()]))
        )
    path = out_dir / "report.html"
    path.write_text(
        render_page(title=spec.title, subtitle=spec.subtitle, sections=sections), encoding="utf-8"
    )
    return path


def detection_table(evaluation: Evaluation) -> list[dict[str, object]]:
    """The evaluation's rows with readable headings and percentages."""
    return [
        {
            "alert": r.label,
            "labelled episodes": r.episodes,
            "alerted by onset": _pct(r.by_onset),
            "alerted during": _pct(r.during),
            "median lead (h)": None if r.median_lead_hours is None else round(r.median_lead_hours, 1),
            "alerts, no-episode patients": r.alerts,
            "alerts / patient-day": None
            if r.alerts_per_patient_day is None
            else round(r.alerts_per_patient_day, 3),
        }
        for r in evaluation.rows
    ]


def _pct(v: float | None) -> str:
    return "" if v is None else f"{v:.0%}"


def _detection_html(evaluation: Evaluation) -> str:
    e = evaluation
    note = (
        f"<p class='note'>{e.patients} patients, {e.event_patients} with labelled episodes; "
        f"{e.non_event_patient_days:.1f} patient-days without episodes. "
        f"<b>Alerted by onset</b>: an alert of that kind within {e.lookback_hours:g} h before the "
        "episode's clinical onset. <b>Alerted during</b>: from then until the episode ends. "
        "<b>Lead</b>: onset minus the first such alert. <b>Alerts / patient-day</b>: alert burden on "
        "patients without any labelled episode. <code>NEWS2&gt;=5</code> is the comparator (NEWS2 alone); "
        "<code>any clinical</code> counts clinical alert episodes of any kind.</p>"
    )
    return html_table(detection_table(e)) + note
