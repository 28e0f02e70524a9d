"""The report's plotly figures: a cohort overview and one panel per patient.

>>> from datetime import UTC, datetime, timedelta
>>> t0 = datetime(2024, 1, 1, tzinfo=UTC)
>>> alerts = [AlertSpan("p1", "hard_limit", "spo2", "high", t0, t0 + timedelta(hours=1), "SpO2 85 %", 85.0)]
>>> fig = alerts_by_kind(alerts)
>>> [(trace.name, list(trace.y)) for trace in fig.data]
[('high', [1])]
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ingest.episodes import Episode
from ingest.metrics import CATALOGUE, Metric
from vigil.report.data import AlertSpan, PatientTrace

SEVERITY_COLOURS = {"info": "#4c78a8", "low": "#c9a100", "medium": "#f58518", "high": "#d62728"}
SEVERITIES = tuple(SEVERITY_COLOURS)
_METRIC_ORDER = {m.value: i for i, m in enumerate(Metric)}
_EPISODE_FILL = "rgba(120,120,120,0.18)"
_BAND_FILL = "rgba(76,120,168,0.18)"


def _label(metric: str) -> str:
    try:
        spec = CATALOGUE[Metric(metric)]
    except ValueError:
        return metric
    return f"{spec.display} ({spec.unit})"


def alerts_by_kind(alerts: Sequence[AlertSpan]) -> go.Figure:
    """Alert count per kind, stacked by the highest severity each alert reached."""
    counts = Counter((a.kind, a.severity) for a in alerts)
    kinds = sorted({a.kind for a in alerts})
    fig = go.Figure()
    for sev in SEVERITIES:
        ys = [counts[k, sev] for k in kinds]
        if any(ys):
            fig.add_bar(name=sev, x=kinds, y=ys, marker_color=SEVERITY_COLOURS[sev])
    fig.update_layout(
        barmode="stack",
        title="Alerts by kind and highest severity",
        height=320,
        margin={"l": 50, "r": 20, "t": 50, "b": 40},
        legend_title_text="severity",
    )
    return fig


def cohort_timeline(
    alerts: Sequence[AlertSpan], episodes: Sequence[Episode], patients: Sequence[str], until: datetime
) -> go.Figure:
    """One row per patient: labelled episodes as grey bars, alerts as bars coloured by severity."""
    rows = set(patients)
    fig = go.Figure()
    ep_x: list[datetime | None] = []
    ep_y: list[str | None] = []
    for e in episodes:
        if e.patient_id in rows:
            ep_x += [e.start, e.end or until, None]
            ep_y += [e.patient_id, e.patient_id, None]
    if ep_x:
        fig.add_scatter(
            x=ep_x,
            y=ep_y,
            mode="lines",
            name="labelled episode",
            hoverinfo="skip",
            line={"color": "rgba(120,120,120,0.35)", "width": 16},
        )
    for sev in SEVERITIES:
        chosen = [a for a in alerts if a.severity == sev and a.patient_id in rows]
        if not chosen:
            continue
        xs: list[datetime | None] = []
        ys: list[str | None] = []
        for a in chosen:
            xs += [a.start, a.end or until, None]
            ys += [a.patient_id, a.patient_id, None]
        colour = SEVERITY_COLOURS[sev]
        fig.add_scatter(
            x=xs,
            y=ys,
            mode="lines",
            name=f"{sev} alert",
            line={"color": colour, "width": 6},
            hoverinfo="skip",
            legendgroup=sev,
        )
        fig.add_scatter(
            x=[a.start for a in chosen],
            y=[a.patient_id for a in chosen],
            mode="markers",
            marker={"color": colour, "size": 7, "symbol": "triangle-right"},
            showlegend=False,
            legendgroup=sev,
            text=[f"{a.kind} {a.metric}: {a.message}" for a in chosen],
            hovertemplate="%{y} %{x}<br>%{text}<extra></extra>",
        )
    fig.update_layout(
        title="Cohort timeline: alerts (coloured by severity) and labelled episodes (grey)",
        height=max(300, 22 * len(patients) + 120),
        margin={"l": 90, "r": 20, "t": 50, "b": 40},
    )
    fig.update_yaxes(categoryorder="array", categoryarray=list(reversed(patients)), type="category")
    return fig


def patient_panel(
    trace: PatientTrace, alerts: Sequence[AlertSpan], episodes: Sequence[Episode]
) -> go.Figure | None:
    """A patient's vitals with the learned expected band, alert markers, NEWS2 and labelled episodes."""
    metrics = sorted(trace.series, key=lambda m: _METRIC_ORDER.get(m, 99))
    has_news2 = bool(trace.news2)
    n_rows = len(metrics) + int(has_news2)
    if n_rows == 0:
        return None
    titles = [_label(m) for m in metrics] + (["NEWS2 total"] if has_news2 else [])
    fig = make_subplots(rows=n_rows, cols=1, shared_xaxes=True, vertical_spacing=0.04, subplot_titles=titles)
    row_of = {m: i + 1 for i, m in enumerate(metrics)}
    for metric, row in row_of.items():
        s = trace.series[metric]
        edge = {
            "x": s.times,
            "mode": "lines",
            "line": {"width": 0},
            "hoverinfo": "skip",
            "connectgaps": False,
        }
        fig.add_scatter(y=s.high, showlegend=False, row=row, col=1, **edge)
        fig.add_scatter(y=s.low, fill="tonexty", fillcolor=_BAND_FILL, name="expected band",
                        legendgroup="band", showlegend=row == 1, row=row, col=1, **edge)  # fmt: skip
        fig.add_scatter(
            x=s.times,
            y=s.values,
            mode="lines+markers",
            name=metric,
            showlegend=False,
            line={"color": "#333", "width": 1},
            marker={"size": 3, "color": "#333"},
            customdata=s.scores,
            hovertemplate="%{x}<br>%{y:.4g} (score %{customdata:.2f})<extra></extra>",
            row=row,
            col=1,
        )
    if has_news2:
        fig.add_scatter(
            x=trace.news2_times,
            y=trace.news2,
            mode="lines",
            line={"shape": "hv", "color": "#7b3294"},
            name="NEWS2",
            showlegend=False,
            row=n_rows,
            col=1,
        )
    _add_alert_markers(fig, trace, alerts, row_of, news2_row=n_rows if has_news2 else None)
    for e in episodes:
        end = e.end or _last_time(trace)
        if end is not None:
            fig.add_vrect(
                x0=e.start,
                x1=end,
                fillcolor=_EPISODE_FILL,
                line_width=0,
                row="all",
                col=1,
                annotation_text=e.kind,
                annotation_position="top left",
            )
    fig.update_layout(
        title=f"Patient {trace.patient_id}",
        height=150 * n_rows + 90,
        margin={"l": 60, "r": 20, "t": 70, "b": 30},
        hovermode="closest",
    )
    return fig


def _last_time(trace: PatientTrace) -> datetime | None:
    ends = [s.times[-1] for s in trace.series.values() if s.times]
    return max(ends) if ends else None


def _add_alert_markers(
    fig: go.Figure,
    trace: PatientTrace,
    alerts: Sequence[AlertSpan],
    row_of: dict[str, int],
    news2_row: int | None,
) -> None:
    """A triangle at each alert's start on its metric's row (alerts without a metric go on the NEWS2 row)."""
    for sev in SEVERITIES:
        by_row: dict[int, list[AlertSpan]] = {}
        for a in alerts:
            row = row_of.get(a.metric) or news2_row
            if a.severity == sev and row is not None:
                by_row.setdefault(row, []).append(a)
        for row, chosen in by_row.items():
            fig.add_scatter(
                x=[a.start for a in chosen],
                y=[_marker_y(trace, a, row == news2_row) for a in chosen],
                mode="markers",
                marker={"symbol": "triangle-down", "size": 11, "color": SEVERITY_COLOURS[sev]},
                name=f"{sev} alert",
                legendgroup=sev,
                showlegend=False,
                text=[f"{a.kind}: {a.message}" for a in chosen],
                hovertemplate="%{x}<br>%{text}<extra></extra>",
                row=row,
                col=1,
            )


def _marker_y(trace: PatientTrace, alert: AlertSpan, on_news2_row: bool) -> float | None:
    if on_news2_row:
        return _value_at(trace.news2_times, trace.news2, alert.start)
    if alert.value is not None:
        return alert.value
    s = trace.series[alert.metric]
    return _value_at(s.times, s.values, alert.start)


def _value_at(times: Sequence[datetime], values: Sequence[float], t: datetime) -> float | None:
    """The latest value at or before ``t`` (the first one if ``t`` is earlier)."""
    best = None
    for ti, v in zip(times, values, strict=True):
        if ti > t and best is not None:
            break
        best = v
    return best
