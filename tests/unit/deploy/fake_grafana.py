"""A loopback HTTP server mimicking the Grafana HTTP API endpoints ``vigil grafana provision`` uses.

Request bodies are validated against strict models of Grafana's documented request shapes
(folders, datasources, ``POST /api/dashboards/db``, the alerting provisioning API), so an
unknown key, a missing required field or a reference to a folder that does not exist is
answered 400 (or 404/409/412) like Grafana would. Everything is kept in memory.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vigil.grafana.provisioning_format import Duration, RuleQuery, Uid


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class CreateFolder(_Body):
    title: str = Field(min_length=1)
    uid: Uid | None = None
    parentUid: str | None = None


class UpdateFolder(_Body):
    title: str = Field(min_length=1)
    version: int | None = None
    overwrite: bool = False
    uid: str | None = None


class DatasourceBody(_Body):
    name: str = Field(min_length=1)
    type: str = Field(min_length=1)
    access: Literal["proxy", "direct"]
    url: str = ""
    uid: Uid | None = None
    isDefault: bool = False
    basicAuth: bool = False
    basicAuthUser: str | None = None
    user: str | None = None
    database: str | None = None
    withCredentials: bool = False
    jsonData: dict[str, Any] = {}
    secureJsonData: dict[str, str] = {}
    editable: bool | None = None
    readOnly: bool | None = None
    version: int | None = None


class DashboardModel(BaseModel):
    model_config = ConfigDict(extra="allow")
    uid: Uid
    title: str = Field(min_length=1)
    panels: list[dict[str, Any]]
    schemaVersion: int


class SaveDashboard(_Body):
    dashboard: DashboardModel
    folderUid: str | None = None
    folderId: int | None = None
    overwrite: bool = False
    message: str | None = None


class ProvisionedAlertRule(_Body):
    uid: Uid
    orgID: int = Field(ge=1)
    folderUID: str = Field(min_length=1)
    ruleGroup: str = Field(min_length=1, max_length=190)
    title: str = Field(min_length=1, max_length=190)
    condition: str = Field(min_length=1)
    data: list[RuleQuery] = Field(min_length=1)
    noDataState: Literal["Alerting", "NoData", "OK"]
    execErrState: Literal["Alerting", "Error", "OK", "KeepLast"]
    for_: Duration = Field(alias="for")
    annotations: dict[str, str] = {}
    labels: dict[str, str] = {}
    isPaused: bool = False
    notification_settings: dict[str, Any] | None = None


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Call:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class GrafanaState:
    token: str
    folders: dict[str, dict[str, Any]] = field(default_factory=dict)
    datasources: dict[str, dict[str, Any]] = field(default_factory=dict)
    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)


def _parse(model: type[BaseModel], body: Any) -> Any:
    try:
        return model.model_validate(body).model_dump(by_alias=True, exclude_none=True)
    except ValidationError as exc:
        raise ApiError(400, str(exc)) from exc


def _get(store: dict[str, Any], uid: str) -> dict[str, Any]:
    if uid not in store:
        raise ApiError(404, "not found")
    item: dict[str, Any] = store[uid]
    return item


Handler = Callable[[GrafanaState, re.Match[str], Any], Any]


def _create_folder(st: GrafanaState, m: re.Match[str], body: Any) -> Any:
    folder = _parse(CreateFolder, body)
    if folder["uid"] in st.folders:
        raise ApiError(409, "a folder with the same uid already exists")
    st.folders[folder["uid"]] = {**folder, "version": 1}
    return st.folders[folder["uid"]]


def _update_folder(st: GrafanaState, m: re.Match[str], body: Any) -> Any:
    _get(st.folders, m["uid"])["title"] = _parse(UpdateFolder, body)["title"]
    return st.folders[m["uid"]]


def _create_datasource(st: GrafanaState, m: re.Match[str], body: Any) -> Any:
    ds = _parse(DatasourceBody, body)
    if any(d["name"] == ds["name"] for d in st.datasources.values()) or ds.get("uid") in st.datasources:
        raise ApiError(409, "data source with the same name or uid already exists")
    st.datasources[ds["uid"]] = ds
    return {"datasource": ds, "id": len(st.datasources), "message": "Datasource added"}


def _update_datasource(st: GrafanaState, m: re.Match[str], body: Any) -> Any:
    _get(st.datasources, m["uid"])
    st.datasources[m["uid"]] = _parse(DatasourceBody, body)
    return {"datasource": st.datasources[m["uid"]], "message": "Datasource updated"}


def _save_dashboard(st: GrafanaState, m: re.Match[str], body: Any) -> Any:
    save = _parse(SaveDashboard, body)
    uid = save["dashboard"]["uid"]
    if save.get("folderUid") and save["folderUid"] not in st.folders:
        raise ApiError(400, "folder not found")
    if uid in st.dashboards and not save["overwrite"]:
        raise ApiError(412, "a dashboard with the same uid already exists")
    st.dashboards[uid] = save
    return {"uid": uid, "status": "success", "version": 1}


def _create_rule(st: GrafanaState, m: re.Match[str], body: Any) -> Any:
    rule = _parse(ProvisionedAlertRule, body)
    if rule["folderUID"] not in st.folders:
        raise ApiError(400, "folder does not exist")
    if rule["uid"] in st.rules:
        raise ApiError(409, "rule uid already exists")
    st.rules[rule["uid"]] = rule
    return rule


def _update_rule(st: GrafanaState, m: re.Match[str], body: Any) -> Any:
    _get(st.rules, m["uid"])
    rule = _parse(ProvisionedAlertRule, body)
    if rule["uid"] != m["uid"]:
        raise ApiError(400, "uid in body differs from the path")
    st.rules[m["uid"]] = rule
    return rule


ROUTES: list[tuple[str, re.Pattern[str], Handler]] = [
    ("GET", re.compile(r"/api/folders/(?P<uid>[^/]+)"), lambda st, m, b: _get(st.folders, m["uid"])),
    ("POST", re.compile(r"/api/folders"), _create_folder),
    ("PUT", re.compile(r"/api/folders/(?P<uid>[^/]+)"), _update_folder),
    (
        "GET",
        re.compile(r"/api/datasources/uid/(?P<uid>[^/]+)"),
        lambda st, m, b: _get(st.datasources, m["uid"]),
    ),
    ("POST", re.compile(r"/api/datasources"), _create_datasource),
    ("PUT", re.compile(r"/api/datasources/uid/(?P<uid>[^/]+)"), _update_datasource),
    (
        "GET",
        re.compile(r"/api/dashboards/uid/(?P<uid>[^/]+)"),
        lambda st, m, b: _get(st.dashboards, m["uid"]),
    ),
    ("POST", re.compile(r"/api/dashboards/db"), _save_dashboard),
    (
        "GET",
        re.compile(r"/api/v1/provisioning/alert-rules/(?P<uid>[^/]+)"),
        lambda st, m, b: _get(st.rules, m["uid"]),
    ),
    ("POST", re.compile(r"/api/v1/provisioning/alert-rules"), _create_rule),
    ("PUT", re.compile(r"/api/v1/provisioning/alert-rules/(?P<uid>[^/]+)"), _update_rule),
]


def _handler(state: GrafanaState) -> type[BaseHTTPRequestHandler]:
    class GrafanaHandler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            path = self.path.split("?")[0]
            try:
                body = json.loads(raw) if raw else None
                state.calls.append(Call(self.command, path, dict(self.headers.items()), body))
                if self.headers.get("Authorization") != f"Bearer {state.token}":
                    raise ApiError(401, "Unauthorized")
                for method, pattern, handle in ROUTES:
                    match = pattern.fullmatch(path)
                    if method == self.command and match:
                        status, answer = 200, handle(state, match, body)
                        break
                else:
                    raise ApiError(404, f"no route {self.command} {path}")
            except ApiError as exc:
                status, answer = exc.status, {"message": str(exc)}
            except ValueError as exc:
                status, answer = 400, {"message": f"bad JSON: {exc}"}
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = _serve

    return GrafanaHandler


@contextmanager
def fake_grafana(token: str) -> Iterator[tuple[str, GrafanaState]]:
    """Run the fake on a free loopback port; yields its base URL and its state."""
    state = GrafanaState(token=token)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
