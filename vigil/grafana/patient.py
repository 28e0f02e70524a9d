"""The *Patient drill-down* board: one patient's vitals against their own expected band.

Each vital shows the reading, the patient's learned expected range as a shaded band and
anomaly markers (score at or above :data:`ANOMALY_SCORE`); NEWS2 and its sub-scores over
time, and the SpO2 scale in use; alerts as annotations; sleep, activity and HRV as daily bars over two weeks.

>>> board = patient_dashboard()
>>> board["uid"], board["templating"]["list"][0]["query"]
('vigil-patient', 'SHOW TAG VALUES FROM "reading" WITH KEY = "patient_id"')
"""

from __future__ import annotations

from detectors.monitor import ANOMALY_METRICS
from ingest.metrics import CATALOGUE, Metric
from streams import schema as s
from vigil.grafana import influxql as q
from vigil.grafana.panels import (
    BLUE,
    NEWS2_THRESHOLDS,
    Json,
    dashboard,
    dashboard_link,
    override,
    query_variable,
    row,
    stat,
    target,
    thresholds,
    timeseries,
)
from vigil.grafana.units import grafana_unit

VARIABLE = "patient"
ANOMALY_SCORE = 0.9
VITALS = tuple(m for m in Metric if m in ANOMALY_METRICS or m is Metric.BODY_WEIGHT)
"""Vitals with a per-patient baseline (the detectors' anomaly metrics), plus body weight."""
BEHAVIOUR: dict[Metric, str] = {  # metric -> daily aggregate
    Metric.SLEEP_DURATION: "max",
    Metric.STEPS: "sum",
    Metric.ACTIVITY_MINUTES: "sum",
    Metric.HRV_RMSSD: "mean",
}
BEHAVIOUR_DAYS = 14
_PATIENT = q.matches_variable(s.TAG_PATIENT, VARIABLE)


def patient_variable_query() -> str:
    """The patients to choose from: every ``patient_id`` that has readings."""
    return f"SHOW TAG VALUES FROM {q.ident(s.READING)} WITH KEY = {q.ident(s.TAG_PATIENT)}"


def vital_query(metric: Metric) -> str:
    """The reading with the patient's expected band, averaged per interval."""
    cols = [
        f'mean("{s.F_VALUE}") AS "value"',
        f'mean("{s.F_EXPECTED_LOW}") AS "expected low"',
        f'mean("{s.F_EXPECTED_HIGH}") AS "expected high"',
    ]
    return q.select_where(
        s.READING, cols, [_PATIENT, q.eq(s.TAG_METRIC, metric.value)], by_time=q.INTERVAL, fill="none"
    )


def anomaly_query(metric: Metric) -> str:
    """Raw readings that scored as anomalous for this patient (drawn as red points)."""
    return q.select_where(
        s.READING,
        [f'"{s.F_VALUE}" AS "anomaly"'],
        [_PATIENT, q.eq(s.TAG_METRIC, metric.value), f'"{s.F_SCORE}" >= {ANOMALY_SCORE}'],
    )


def news2_total_query() -> str:
    """NEWS2 total over time (worst per interval)."""
    return q.select_where(
        s.NEWS2, [f'max("{s.F_TOTAL}") AS "NEWS2"'], [_PATIENT], by_time=q.INTERVAL, fill="none"
    )


def spo2_scale_query() -> str:
    """The SpO2 scale NEWS2 uses for the patient: the latest profile, however long ago it was set."""
    return q.select_where(
        s.PROFILE, [f'last("{s.F_SPO2_SCALE}") AS "SpO2 scale"'], [_PATIENT], time_filter="time <= now()"
    )


def news2_subscores_query() -> str:
    """Every NEWS2 sub-score field (``sub_*``) over time, whatever parameters the scorer reports."""
    return q.select_where(
        s.NEWS2, [f"max(/^{s.F_SUBSCORE_PREFIX}/)"], [_PATIENT], by_time=q.INTERVAL, fill="none"
    )


def behaviour_query(metric: Metric, aggregate: str) -> str:
    """One bar per day: ``aggregate`` of the metric's readings."""
    return q.select_where(
        s.READING,
        [f'{aggregate}("{s.F_VALUE}") AS "{metric.value}"'],
        [_PATIENT, q.eq(s.TAG_METRIC, metric.value)],
        by_time="1d",
        fill="none",
    )


def alert_annotation_query() -> str:
    """Alert transitions of the patient, for the InfluxQL annotation layer."""
    return q.select_where(
        s.ALERT,
        [q.ident(s.F_MESSAGE), q.ident(s.TAG_KIND), q.ident(s.TAG_SEVERITY), q.ident(s.TAG_STATUS)],
        [_PATIENT],
    )


def _vital_panel(metric: Metric) -> Json:
    spec = CATALOGUE[metric]
    panel = timeseries(
        spec.display,
        [target("A", vital_query(metric), alias="$col"), target("B", anomaly_query(metric), alias="$col")],
        unit=grafana_unit(spec.unit),
        description=f"{spec.display} with the patient's expected band (shaded) and anomalies "
        f"(score ≥ {ANOMALY_SCORE}, red points).",
    )
    panel["fieldConfig"]["overrides"] = [
        override(
            "expected high",
            ("custom.fillBelowTo", "expected low"),
            ("custom.lineWidth", 0),
            ("custom.fillOpacity", 15),
            ("color", {"mode": "fixed", "fixedColor": "green"}),
        ),
        override(
            "expected low", ("custom.lineWidth", 0), ("color", {"mode": "fixed", "fixedColor": "green"})
        ),
        override(
            "anomaly",
            ("custom.drawStyle", "points"),
            ("custom.pointSize", 9),
            ("color", {"mode": "fixed", "fixedColor": "red"}),
        ),
    ]
    return panel


def _behaviour_panel(metric: Metric, aggregate: str) -> Json:
    spec = CATALOGUE[metric]
    panel = timeseries(
        f"{spec.display} (daily {aggregate})",
        [target("A", behaviour_query(metric, aggregate))],
        unit=grafana_unit(spec.unit),
        bars=True,
        description=f"Last {BEHAVIOUR_DAYS} days, one bar per day.",
    )
    panel["timeFrom"] = f"{BEHAVIOUR_DAYS}d"
    return panel


def patient_dashboard(uid: str = "vigil-patient") -> Json:
    """The patient drill-down dashboard model (its uid is ``Settings.grafana.patient_dashboard_uid``)."""
    alerts = {
        "datasource": {"type": "influxdb", "uid": "vigil-influxdb"},
        "enable": True,
        "iconColor": "red",
        "name": "Vigil alerts (InfluxDB)",
        "query": alert_annotation_query(),
        "textColumn": s.F_MESSAGE,
        "tagsColumn": f"{s.TAG_KIND},{s.TAG_SEVERITY},{s.TAG_STATUS}",
    }
    api_annotations = {
        "datasource": {"type": "grafana", "uid": "-- Grafana --"},
        "enable": True,
        "iconColor": "orange",
        "name": "Vigil alerts (annotations API)",
        "target": {
            "type": "tags",
            "tags": ["vigil", f"patient:${VARIABLE}"],
            "matchAny": False,
            "limit": 500,
        },
    }
    news2 = timeseries(
        "NEWS2",
        [target("A", news2_total_query(), alias="$col")],
        threshold_steps=NEWS2_THRESHOLDS,
        description="Green 0-4, amber 5-6, red 7+.",
    )
    subs = timeseries(
        "NEWS2 sub-scores",
        [target("A", news2_subscores_query(), alias="$col")],
        bars=True,
        stack=True,
        description="Each parameter's score (0-3); a single 3 means urgent review.",
    )
    scale = stat(
        "SpO2 scale",
        [target("A", spo2_scale_query())],
        threshold_steps=thresholds((None, BLUE), (2, "purple")),
        no_value="1",
        description="The NEWS2 SpO2 scale in use, from the patient's latest profile (none set: scale 1). "
        "Scale 2 (target 88-92 %) is for confirmed hypercapnic respiratory failure only.",
    )
    panels: list[tuple[Json, int, int]] = [
        (row("NEWS2"), 24, 1),
        (stat("NEWS2 now", [target("A", news2_total_query())], threshold_steps=NEWS2_THRESHOLDS), 4, 8),
        (scale, 4, 8),
        (news2, 8, 8),
        (subs, 8, 8),
        (row("Vital signs"), 24, 1),
        *((_vital_panel(m), 12, 8) for m in VITALS),
        (row("Sleep, activity and heart-rate variability"), 24, 1),
        *((_behaviour_panel(m, agg), 12, 7) for m, agg in BEHAVIOUR.items()),
    ]
    return dashboard(
        uid,
        "Vigil · Patient drill-down",
        panels,
        description="One patient's vitals against their own expected band, NEWS2 and alerts.",
        variables=[query_variable(VARIABLE, "Patient", patient_variable_query())],
        annotations=[alerts, api_annotations],
        links=[
            dashboard_link("Virtual ward overview", "vigil-ward"),
            dashboard_link("Pipeline health", "vigil-pipeline"),
        ],
        time_from="now-24h",
    )
