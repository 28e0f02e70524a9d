"""Every InfluxQL query of the Grafana boards and alert rules runs on the real InfluxDB and returns data.

The database is loaded with real pipeline output (``vigil.grafana.sample_data``): a simulated
cohort (the last three days) through the detect stage, written by the worker's InfluxDB sink,
plus ``pipeline`` points of two workers.
Grafana's macros are replaced the way Grafana does it (``vigil.grafana.influxql.concrete``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from detectors.news2 import Band, News2Score
from streams.points import news2_point
from tests.integration.helpers import influx_query
from vigil.grafana.alert_rules import rule_groups
from vigil.grafana.influxql import concrete
from vigil.grafana.patient import patient_dashboard
from vigil.grafana.pipeline import pipeline_dashboard
from vigil.grafana.sample_data import pipeline_points, ward_points, write_points
from vigil.grafana.ward import ward_dashboard
from vigil.settings import Settings

DAYS = 3
INTERVAL = "10m"


def _load(settings: Settings, now: datetime) -> list[str]:
    """Write pipeline output for a small cohort; return the patient ids."""
    points, patients = ward_points(settings, now, days=DAYS)
    # Two more patients whose latest NEWS2 is medium and high, so every ward count has someone to count.
    for pid, total, band in (("ward-medium", 5, Band.MEDIUM), ("ward-high", 8, Band.HIGH)):
        score = News2Score(
            total=total, band=band, subscores={"pulse": 2, "temperature": total - 2}, missing=()
        )
        points.append(news2_point(pid, now - timedelta(minutes=5), f"{pid}-r1", score))
    write_points(settings, points + pipeline_points(now))
    return patients


def _is_overlay(target: dict[str, Any]) -> bool:
    """Anomaly markers drawn over a vital: empty for a metric with too few readings to score."""
    return 'AS "anomaly"' in target["query"]


def _targets(board: dict[str, Any]) -> list[tuple[str, str]]:
    out = [
        (p["title"], t["query"])
        for p in board["panels"]
        if p["type"] != "row"
        for t in p["targets"]
        if not _is_overlay(t)
    ]
    out += [(f"annotation {a['name']}", a["query"]) for a in board["annotations"]["list"] if "query" in a]
    out += [(f"variable {v['name']}", v["query"]) for v in board["templating"]["list"]]
    return out


def _rows(settings: Settings, query: str, patients: list[str], now: datetime) -> list[dict[str, Any]]:
    """Rows of ``query`` over the loaded range; a patient query counts for any patient of the ward."""
    start, end = now - timedelta(days=DAYS), now + timedelta(minutes=1)
    chosen = patients if "$patient" in query else patients[:1]
    return [
        row
        for p in chosen
        for row in influx_query(settings, concrete(query, start, end, INTERVAL, {"patient": p}))
    ]


def test_every_dashboard_query_returns_data(service_settings: Settings) -> None:
    now = datetime.now(UTC)
    patients = _load(service_settings, now)
    empty = [
        f"{board['uid']} / {title}: {query}"
        for board in (ward_dashboard(), patient_dashboard(), pipeline_dashboard())
        for title, query in _targets(board)
        if not _rows(service_settings, query, patients, now)
    ]
    assert not empty, "queries without data:\n" + "\n".join(empty)
    overlays = [
        t["query"]
        for p in patient_dashboard()["panels"]
        if p["type"] != "row"
        for t in p["targets"]
        if _is_overlay(t)
    ]
    with_markers = [q for q in overlays if _rows(service_settings, q, patients, now)]
    assert any("'heart_rate'" in q for q in with_markers), "anomaly markers on the most frequent vital"


def test_patient_variable_lists_every_patient(service_settings: Settings) -> None:
    patients = _load(service_settings, datetime.now(UTC))
    query = patient_dashboard()["templating"]["list"][0]["query"]
    assert sorted(row["value"] for row in influx_query(service_settings, query)) == patients


def test_alert_rule_queries_run_and_news2_rules_see_patients(service_settings: Settings) -> None:
    now = datetime.now(UTC)
    patients = _load(service_settings, now)
    results = {}
    for group in rule_groups(service_settings):
        for rule in group["rules"]:
            for entry in rule["data"]:
                if "query" in entry["model"]:
                    results[rule["uid"]] = influx_query(service_settings, entry["model"]["query"])
    latest = {row["patient_id"]: row["last"] for row in results["vigil-news2-high"]}
    assert latest["ward-high"] == 8 and latest["ward-medium"] == 5
    assert set(latest) - {"ward-high", "ward-medium"} <= set(patients)
    urgent = {row["patient_id"] for row in results["vigil-news2-urgent"]}
    assert "ward-medium" in urgent and "ward-high" not in urgent
    assert results["vigil-ingest-stalled"] and results["vigil-ingest-stalled"][0]["count"] > 0
    assert {row["worker_id"] for row in results["vigil-consumer-lag"]} == {"worker-1", "worker-2"}
    for row in results["vigil-alert-high"]:
        assert row["level"] >= 0 and row["kind"] != "news2"
