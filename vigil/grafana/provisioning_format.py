"""Grafana's file-provisioning formats as strict models, so a wrong key or value fails loudly.

They mirror Grafana's documented formats (``apiVersion: 1``) for datasources, dashboard
providers and alerting (rule ``groups``, ``contactPoints``, notification ``policies``):
unknown keys are rejected, enumerations and durations checked, and a rule's
``condition`` and expression inputs must name one of its own queries.

>>> AlertingFile.model_validate({"apiVersion": 1, "contactPoints": [{"orgId": 1, "name": "x",
...     "receivers": [{"uid": "x", "type": "webhook", "settings": {"url": "$URL"}}]}]}).contactPoints[0].name
'x'
>>> AlertingFile.model_validate({"apiVersion": 1, "policies": [{"receiver": "x", "groupBy": ["a"]}]})
Traceback (most recent call last):
...
pydantic_core._pydantic_core.ValidationError: 1 validation error for AlertingFile
policies.0.groupBy
  Extra inputs are not permitted [type=extra_forbidden, input_value=['a'], input_type=list]
...
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Duration = Annotated[str, Field(pattern=r"^(\d+(ms|s|m|h|d|w|y))+$")]
Uid = Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[a-zA-Z0-9_-]+$")]
EXPRESSION_UID = "__expr__"
EXPRESSION_TYPES = {"math", "reduce", "resample", "threshold", "classic_conditions", "sql"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class RelativeTimeRange(_Strict):
    from_: int = Field(alias="from", ge=0)
    to: int = Field(ge=0)


class RuleQuery(_Strict):
    """One entry of a rule's ``data``: a datasource query or a server-side expression."""

    refId: str = Field(min_length=1)
    relativeTimeRange: RelativeTimeRange
    datasourceUid: str = Field(min_length=1)
    queryType: str = ""
    model: dict[str, Any]

    @model_validator(mode="after")
    def _check_model(self) -> RuleQuery:
        if self.datasourceUid == EXPRESSION_UID:
            kind = self.model.get("type")
            if kind not in EXPRESSION_TYPES:
                raise ValueError(
                    f"model.type: expression type {kind!r} is not one of {sorted(EXPRESSION_TYPES)}"
                )
            if not self.model.get("expression") and kind != "classic_conditions":
                raise ValueError("model.expression: an expression needs its input")
        elif "query" in self.model and not self.model.get("rawQuery"):
            raise ValueError("model.rawQuery: a raw InfluxQL query needs rawQuery: true")
        return self


class Rule(_Strict):
    """An alert rule in a provisioning file."""

    uid: Uid
    title: str = Field(min_length=1, max_length=190)
    condition: str
    data: list[RuleQuery] = Field(min_length=1)
    dashboardUid: str | None = None
    panelId: int | None = None
    noDataState: Literal["Alerting", "NoData", "OK"] = "NoData"
    execErrState: Literal["Alerting", "Error", "OK", "KeepLast"] = "Error"
    for_: Duration = Field(alias="for")
    annotations: dict[str, str] = {}
    labels: dict[str, str] = {}
    isPaused: bool = False

    @model_validator(mode="after")
    def _references(self) -> Rule:
        refs = [q.refId for q in self.data]
        if len(set(refs)) != len(refs):
            raise ValueError(f"data: duplicate refId in {refs}")
        if self.condition not in refs:
            raise ValueError(f"condition: {self.condition!r} is not one of the rule's refIds {refs}")
        for q in self.data:
            source = q.model.get("expression")
            if q.datasourceUid == EXPRESSION_UID and source:
                used = set(re.findall(r"\$\{?(\w+)", source)) or {source}
                if not used <= set(refs):
                    raise ValueError(
                        f"data[{q.refId}].model.expression: {source!r} names no refId of the rule"
                    )
        return self


class RuleGroup(_Strict):
    orgId: int = Field(default=1, ge=1)
    name: str = Field(min_length=1)
    folder: str = Field(min_length=1)
    interval: Duration
    rules: list[Rule]


_REQUIRED_SETTINGS = {
    "webhook": ("url",),
    "email": ("addresses",),
    "pagerduty": ("integrationKey",),
    "teams": ("url",),
}


class Receiver(_Strict):
    """One integration of a contact point."""

    uid: Uid
    type: Literal[
        "webhook",
        "email",
        "slack",
        "pagerduty",
        "teams",
        "opsgenie",
        "telegram",
        "discord",
        "googlechat",
        "prometheus-alertmanager",
        "victorops",
        "sns",
        "webex",
    ]
    settings: dict[str, Any]
    disableResolveMessage: bool = False

    @model_validator(mode="after")
    def _required_settings(self) -> Receiver:
        missing = [k for k in _REQUIRED_SETTINGS.get(self.type, ()) if not self.settings.get(k)]
        if self.type == "slack" and not (self.settings.get("url") or self.settings.get("token")):
            missing.append("url or token")
        if missing:
            raise ValueError(f"settings: a {self.type} receiver needs {', '.join(missing)}")
        return self


class ContactPoint(_Strict):
    orgId: int = Field(default=1, ge=1)
    name: str = Field(min_length=1)
    receivers: list[Receiver] = Field(min_length=1)


Matcher = tuple[str, Literal["=", "!=", "=~", "!~"], str]


class Route(_Strict):
    """A node of the notification policy tree (file format: snake_case keys)."""

    receiver: str | None = None
    group_by: list[str] | None = None
    object_matchers: list[Matcher] = []
    mute_time_intervals: list[str] = []
    active_time_intervals: list[str] = []
    continue_: bool = Field(default=False, alias="continue")
    group_wait: Duration | None = None
    group_interval: Duration | None = None
    repeat_interval: Duration | None = None
    routes: list[Route] = []

    def receivers(self) -> Iterable[str]:
        if self.receiver:
            yield self.receiver
        for r in self.routes:
            yield from r.receivers()


class Policy(Route):
    """The root of an organisation's notification policy tree."""

    orgId: int = Field(default=1, ge=1)
    receiver: str = Field(min_length=1)

    @field_validator("object_matchers")
    @classmethod
    def _root_matches_all(cls, v: list[Matcher]) -> list[Matcher]:
        if v:
            raise ValueError("the root policy must match every alert (no object_matchers)")
        return v


class AlertingFile(_Strict):
    """A file under ``provisioning/alerting/``."""

    apiVersion: Literal[1]
    groups: list[RuleGroup] = []
    contactPoints: list[ContactPoint] = []
    policies: list[Policy] = []
    deleteRules: list[dict[str, Any]] = []
    deleteContactPoints: list[dict[str, Any]] = []
    resetPolicies: list[int] = []


class Datasource(_Strict):
    name: str = Field(min_length=1)
    type: str = Field(min_length=1)
    uid: Uid
    access: Literal["proxy", "direct"] = "proxy"
    url: str = ""
    orgId: int = Field(default=1, ge=1)
    isDefault: bool = False
    database: str | None = None
    user: str | None = None
    basicAuth: bool = False
    jsonData: dict[str, Any] = {}
    secureJsonData: dict[str, str] = {}
    editable: bool = False
    version: int | None = None


class DatasourceFile(_Strict):
    """A file under ``provisioning/datasources/``."""

    apiVersion: Literal[1]
    datasources: list[Datasource] = []
    deleteDatasources: list[dict[str, Any]] = []


class ProviderOptions(_Strict):
    path: str = Field(min_length=1)
    foldersFromFilesStructure: bool = False


class DashboardProvider(_Strict):
    name: str = Field(min_length=1)
    orgId: int = Field(default=1, ge=1)
    folder: str = ""
    folderUid: str = ""
    type: Literal["file"] = "file"
    disableDeletion: bool = False
    updateIntervalSeconds: int = Field(default=10, ge=1)
    allowUiUpdates: bool = False
    options: ProviderOptions


class DashboardProviderFile(_Strict):
    """A dashboard provider file under ``provisioning/dashboards/``."""

    apiVersion: Literal[1]
    providers: list[DashboardProvider] = Field(min_length=1)


def unknown_receivers(files: Iterable[AlertingFile]) -> set[str]:
    """Receivers that policies route to but no contact point defines (empty when consistent)."""
    files = list(files)
    defined = {cp.name for f in files for cp in f.contactPoints}
    used = {name for f in files for p in f.policies for name in p.receivers()}
    return used - defined
