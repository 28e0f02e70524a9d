"""Push Vigil's folder, datasource, dashboards and alert rules to a running Grafana, idempotently.

Each object is created or updated by its uid, so running it twice changes nothing the
second time. Alert rules go through the alerting provisioning API with
``X-Disable-Provenance`` so people can still edit them in the UI. Contact points and
notification policies carry destinations that differ per site: provision them from the
files in ``deploy/grafana/alerting/`` (see ``docs/deploy.md``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from grafana_client import GrafanaApi
from grafana_client.client import GrafanaClientError

from vigil.grafana.alert_rules import rule_groups
from vigil.grafana.datasource import datasource
from vigil.grafana.files import dashboards
from vigil.grafana.panels import DATASOURCE_UID, FOLDER_TITLE, FOLDER_UID
from vigil.settings import Settings

log = logging.getLogger(__name__)
NOT_FOUND = 404


@dataclass
class ProvisionReport:
    """What was created and what was updated, as ``kind:uid`` strings."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)


def connect(settings: Settings) -> GrafanaApi:
    """A client for ``settings.grafana.url``, authenticated with its token (or user:password in the URL)."""
    token = settings.grafana.token.get_secret_value() if settings.grafana.token else None
    return GrafanaApi.from_url(url=settings.grafana.url, credential=token, timeout=10.0)


def _exists(get: Callable[[], Any]) -> bool:
    try:
        get()
    except GrafanaClientError as e:
        if e.status_code == NOT_FOUND:
            return False
        raise
    return True


def influxql_database(bucket: str) -> str:
    """The InfluxQL database of a bucket named ``database`` or ``database/retention``.

    >>> influxql_database("vigil/autogen"), influxql_database("vigil")
    ('vigil', 'vigil')
    """
    return bucket.split("/", 1)[0]


def alert_rule_body(rule: dict[str, Any], group: str, org_id: int = 1) -> dict[str, Any]:
    """A file-format rule in the shape of ``POST /api/v1/provisioning/alert-rules``."""
    return {**rule, "orgID": org_id, "folderUID": FOLDER_UID, "ruleGroup": group}


def provision(api: GrafanaApi, settings: Settings) -> ProvisionReport:
    """Create or update the Vigil folder, datasource, dashboards and alert rules."""
    report = ProvisionReport()

    def record(kind: str, uid: str, existed: bool) -> None:
        (report.updated if existed else report.created).append(f"{kind}:{uid}")
        log.info("%s %s %s", "updated" if existed else "created", kind, uid)

    existed = _exists(partial(api.folder.get_folder, uid=FOLDER_UID))
    if existed:
        api.folder.update_folder(uid=FOLDER_UID, title=FOLDER_TITLE, overwrite=True)
    else:
        api.folder.create_folder(title=FOLDER_TITLE, uid=FOLDER_UID)
    record("folder", FOLDER_UID, existed)

    ds = datasource(
        settings.influx.url,
        influxql_database(settings.influx.bucket),
        settings.influx.token.get_secret_value(),
    )
    existed = _exists(partial(api.datasource.get_datasource_by_uid, datasource_uid=DATASOURCE_UID))
    if existed:
        api.datasource.update_datasource_by_uid(datasource_uid=DATASOURCE_UID, datasource=ds)
    else:
        api.datasource.create_datasource(datasource=ds)
    record("datasource", DATASOURCE_UID, existed)

    for board in dashboards(settings).values():
        existed = _exists(partial(api.dashboard.get_dashboard, dashboard_uid=board["uid"]))
        api.dashboard.update_dashboard(
            dashboard={
                "dashboard": board,
                "folderUid": FOLDER_UID,
                "overwrite": True,
                "message": "vigil grafana provision",
            }
        )
        record("dashboard", board["uid"], existed)

    alerting = api.alertingprovisioning
    for group in rule_groups(settings):
        for rule in group["rules"]:
            body = alert_rule_body(rule, group["name"], group["orgId"])
            existed = _exists(partial(alerting.get_alertrule, alertrule_uid=rule["uid"]))
            if existed:
                alerting.update_alertrule(alertrule_uid=rule["uid"], alertrule=body, disable_provenance=True)
            else:
                alerting.create_alertrule(alertrule=body, disable_provenance=True)
            record("alert-rule", rule["uid"], existed)
    return report
