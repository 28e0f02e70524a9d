"""``vigil grafana provision`` against a loopback server that checks Grafana's documented request shapes."""

from __future__ import annotations

import copy
from collections.abc import Iterator

import httpx
import pytest
from grafana_client.client import GrafanaClientError

from tests.unit.deploy.fake_grafana import GrafanaState, fake_grafana
from vigil.grafana.alert_rules import rule_groups
from vigil.grafana.files import dashboards
from vigil.grafana.provision import alert_rule_body, connect, provision
from vigil.settings import GrafanaSettings, InfluxSettings, Settings

TOKEN = "test-token-not-a-secret"


@pytest.fixture
def grafana() -> Iterator[tuple[Settings, GrafanaState]]:
    with fake_grafana(TOKEN) as (url, state):
        settings = Settings(
            grafana=GrafanaSettings(url=url, token=TOKEN),
            influx=InfluxSettings(url="http://influx:8086", bucket="vigil/autogen", token="ro-token"),
        )
        yield settings, state


def test_provision_creates_then_updates_everything_by_uid(grafana: tuple[Settings, GrafanaState]) -> None:
    settings, state = grafana
    first = provision(connect(settings), settings)
    rule_uids = {r["uid"] for g in rule_groups(settings) for r in g["rules"]}
    board_uids = {b["uid"] for b in dashboards(settings).values()}
    assert set(first.created) == (
        {"folder:vigil", "datasource:vigil-influxdb"}
        | {f"dashboard:{u}" for u in board_uids}
        | {f"alert-rule:{u}" for u in rule_uids}
    )
    assert first.updated == []
    snapshot = copy.deepcopy((state.folders, state.datasources, state.dashboards, state.rules))

    second = provision(connect(settings), settings)
    assert second.created == [] and sorted(second.updated) == sorted(first.created)
    assert (state.folders, state.datasources, state.dashboards, state.rules) == snapshot


def test_datasource_rules_and_dashboards_have_the_expected_content(
    grafana: tuple[Settings, GrafanaState],
) -> None:
    settings, state = grafana
    provision(connect(settings), settings)
    ds = state.datasources["vigil-influxdb"]
    assert ds["url"] == "http://influx:8086" and ds["jsonData"]["dbName"] == "vigil"
    assert ds["secureJsonData"] == {"httpHeaderValue1": "Token ro-token"}
    assert {d["folderUid"] for d in state.dashboards.values()} == {"vigil"}
    assert state.dashboards["vigil-patient"]["overwrite"] is True
    assert {r["folderUID"] for r in state.rules.values()} == {"vigil"}
    assert state.rules["vigil-news2-high"]["ruleGroup"] == "vigil-clinical"


def test_alert_rules_are_sent_without_provenance(grafana: tuple[Settings, GrafanaState]) -> None:
    settings, state = grafana
    provision(connect(settings), settings)
    provision(connect(settings), settings)
    writes = [
        c for c in state.calls if c.path.startswith("/api/v1/provisioning/") and c.method in {"POST", "PUT"}
    ]
    assert {c.method for c in writes} == {"POST", "PUT"}
    assert all(c.headers.get("X-Disable-Provenance") == "true" for c in writes)


def test_a_wrong_token_fails_loudly() -> None:
    with fake_grafana(TOKEN) as (url, _):
        settings = Settings(grafana=GrafanaSettings(url=url, token="wrong"))
        with pytest.raises(GrafanaClientError) as err:
            provision(connect(settings), settings)
    assert err.value.status_code == 401


def test_the_fake_rejects_what_grafana_rejects(grafana: tuple[Settings, GrafanaState]) -> None:
    """The contract is only as good as the fake's checks: a wrong key or folder must be refused."""
    settings, state = grafana
    headers = {"Authorization": f"Bearer {TOKEN}"}
    base = settings.grafana.url
    rule = alert_rule_body(rule_groups(settings)[0]["rules"][0], "g")
    assert (
        httpx.post(f"{base}/api/v1/provisioning/alert-rules", json=rule, headers=headers).status_code == 400
    )
    httpx.post(
        f"{base}/api/folders", json={"title": "Vigil", "uid": "vigil"}, headers=headers
    ).raise_for_status()
    bad = {**rule, "folderUid": "vigil"}
    assert httpx.post(f"{base}/api/v1/provisioning/alert-rules", json=bad, headers=headers).status_code == 400
    assert (
        httpx.post(f"{base}/api/v1/provisioning/alert-rules", json=rule, headers=headers).status_code == 200
    )
    board = {"dashboard": {"uid": "x", "title": "x", "panels": [], "schemaVersion": 39}, "folderUid": "vigil"}
    assert httpx.post(f"{base}/api/dashboards/db", json=board, headers=headers).status_code == 200
    assert httpx.post(f"{base}/api/dashboards/db", json=board, headers=headers).status_code == 412
    assert state.rules.keys() == {rule["uid"]}
