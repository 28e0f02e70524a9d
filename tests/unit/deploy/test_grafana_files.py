"""The checked-in Grafana provisioning files: current, valid, and consistent with the InfluxDB schema."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from streams import schema as s
from vigil.grafana import provisioning_format as fmt
from vigil.grafana.files import demo_settings, render, stale
from vigil.settings import Settings

ROOT = Path(__file__).resolve().parents[3] / "deploy" / "grafana"


def _load(rel: str) -> Any:
    text = (ROOT / rel).read_text(encoding="utf-8")
    return json.loads(text) if rel.endswith(".json") else yaml.safe_load(text)


def _alerting_files() -> list[fmt.AlertingFile]:
    return [
        fmt.AlertingFile.model_validate(_load(f"alerting/{p.name}")) for p in (ROOT / "alerting").iterdir()
    ]


def _panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in board["panels"] if p["type"] != "row"]


def _queries(board: dict[str, Any]) -> list[str]:
    queries = [t["query"] for p in _panels(board) for t in p["targets"]]
    queries += [a["query"] for a in board["annotations"]["list"] if "query" in a]
    queries += [v["query"] for v in board["templating"]["list"]]
    return queries


def test_checked_in_files_match_the_generator() -> None:
    assert stale(ROOT) == [], "run: .venv/bin/python deploy/grafana/generate.py"


def test_generation_ignores_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_GRAFANA__URL", "http://elsewhere:1")
    monkeypatch.setenv("VIGIL_DETECTORS__NEWS2_FRESHNESS_MINUTES", "5")
    assert render(demo_settings()) == render()


def test_stale_reports_an_edited_file(tmp_path: Path) -> None:
    for rel, text in render().items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text, encoding="utf-8")
    assert stale(tmp_path) == []
    (tmp_path / "dashboards/ward.json").write_text("{}", encoding="utf-8")
    (tmp_path / "alerting/rules.yaml").unlink()
    assert sorted(map(str, stale(tmp_path))) == ["alerting/rules.yaml", "dashboards/ward.json"]


def test_provisioning_files_validate() -> None:
    files = _alerting_files()
    rules = [r for f in files for g in f.groups for r in g.rules]
    assert {r.uid for r in rules} >= {
        "vigil-news2-high",
        "vigil-news2-urgent",
        "vigil-alert-high",
        "vigil-data-gap",
    }
    assert fmt.unknown_receivers(files) == set()
    fmt.DatasourceFile.model_validate(_load("datasources/vigil-influxdb.yaml"))
    fmt.DashboardProviderFile.model_validate(_load("dashboards/vigil.yaml"))
    examples = fmt.AlertingFile.model_validate(_load("examples/contact-points-email-slack-pagerduty.yaml"))
    assert {r.type for cp in examples.contactPoints for r in cp.receivers} == {"email", "slack", "pagerduty"}


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("groups", 0, "rules", 0, "condition"), "Z", "condition"),
        (("groups", 0, "rules", 0, "noDataState"), "Silent", "noDataState"),
        (("groups", 0, "rules", 0, "for"), "5 minutes", "for"),
        (("groups", 0, "rules", 0, "data", 1, "model", "expression"), "Q", "names no refId"),
        (("groups", 0, "rules", 0, "data", 0, "model", "rawQuery"), False, "rawQuery"),
        (("groups", 0, "rules", 0, "uid"), "has spaces", "uid"),
        (("groups", 0, "rules", 0, "annotation"), {"a": "b"}, "Extra inputs"),
    ],
)
def test_a_wrong_rule_key_or_value_fails(path: tuple[Any, ...], value: Any, message: str) -> None:
    doc = copy.deepcopy(_load("alerting/rules.yaml"))
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(ValidationError, match=message):
        fmt.AlertingFile.model_validate(doc)


def test_wrong_policy_and_contact_point_fail() -> None:
    policies = copy.deepcopy(_load("alerting/policies.yaml"))
    policies["policies"][0]["routes"][0]["groupBy"] = ["alertname"]
    with pytest.raises(ValidationError, match="groupBy"):
        fmt.AlertingFile.model_validate(policies)
    points = copy.deepcopy(_load("alerting/contact-points.yaml"))
    del points["contactPoints"][0]["receivers"][0]["settings"]["url"]
    with pytest.raises(ValidationError, match="webhook receiver needs url"):
        fmt.AlertingFile.model_validate(points)
    routed = fmt.AlertingFile.model_validate(_load("alerting/policies.yaml"))
    assert fmt.unknown_receivers([routed]) == {"vigil-oncall-page", "vigil-urgent-review", "vigil-platform"}


def test_policies_route_every_rule_severity_and_group_by_patient() -> None:
    files = _alerting_files()
    severities = {r.labels["severity"] for f in files for g in f.groups for r in g.rules}
    policy = next(p for f in files for p in f.policies)
    routed = {m[2] for route in policy.routes for m in route.object_matchers if m[0] == "severity"}
    assert severities <= routed
    for route in policy.routes:
        assert route.group_by == ["alertname", "patient_id"]
    page = next(r for r in policy.routes if ("severity", "=", "page") in r.object_matchers)
    assert page.group_wait == "0s"


def test_rule_annotations_link_the_patient_dashboard_and_acknowledge_endpoint() -> None:
    uid = Settings().grafana.patient_dashboard_uid
    for f in _alerting_files():
        for rule in (r for g in f.groups for r in g.rules if r.annotations.get("patient_dashboard")):
            assert f"/d/{uid}/" in rule.annotations["patient_dashboard"]
            assert "{{ $labels.patient_id }}" in rule.annotations["patient_dashboard"]
            assert "/v1/alerts/" in rule.annotations["acknowledge"]


def test_no_environment_interpolation_can_reach_queries_or_labels() -> None:
    """Grafana replaces ``$NAME`` in provisioning files (not in annotations): queries and labels have none."""
    for f in _alerting_files():
        for rule in (r for g in f.groups for r in g.rules):
            assert "$" not in json.dumps([q.model for q in rule.data]) + json.dumps(rule.labels), rule.uid


def test_dashboards_have_the_expected_uids_and_a_patient_variable() -> None:
    boards = {p.stem: _load(f"dashboards/{p.name}") for p in (ROOT / "dashboards").glob("*.json")}
    assert {b["uid"] for b in boards.values()} == {"vigil-ward", "vigil-patient", "vigil-pipeline"}
    patient = boards["patient"]
    assert patient["uid"] == Settings().grafana.patient_dashboard_uid
    assert [v["name"] for v in patient["templating"]["list"]] == ["patient"]
    assert patient["templating"]["list"][0]["query"].startswith("SHOW TAG VALUES")
    assert any("query" in a and 'FROM "alert"' in a["query"] for a in patient["annotations"]["list"])


@pytest.mark.parametrize("stem", ["ward", "patient", "pipeline"])
def test_dashboard_queries_use_only_schema_names(stem: str) -> None:
    board = _load(f"dashboards/{stem}.json")
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    for panel in _panels(board):
        assert panel["datasource"]["uid"] == "vigil-influxdb"
        assert all(t["rawQuery"] is True for t in panel["targets"])
    tags = {t for m in s.SCHEMA.values() for t in m["tags"]}
    fields = {f for m in s.SCHEMA.values() for f in m["fields"]}
    for query in _queries(board):
        aliases = set(re.findall(r' AS "([^"]+)"', query))
        for measurement in re.findall(r'FROM "(\w+)"', query):
            assert measurement in s.SCHEMA, query
        for clause in re.findall(r"GROUP BY (.*?)(?: fill| ORDER|\)|$)", query):
            assert set(re.findall(r'"(\w+)"', clause)) <= tags, query
        assert set(re.findall(r'KEY = "(\w+)"', query)) <= tags, query
        assert set(re.findall(r'\w+\("(\w+)"', query)) <= fields | aliases, query
        assert query.startswith("SHOW") or "$timeFilter" in query or "now()" in query, f"unbounded: {query}"
