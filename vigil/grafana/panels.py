"""Builders for the few Grafana panel and dashboard shapes Vigil uses (InfluxQL targets only).

>>> p = timeseries("Heart rate", [target("A", 'SELECT mean("value") FROM "reading" WHERE $timeFilter')],
...                unit="bpm")
>>> p["type"], p["targets"][0]["rawQuery"], p["datasource"]["uid"]
('timeseries', True, 'vigil-influxdb')
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

DATASOURCE_UID = "vigil-influxdb"
DATASOURCE: dict[str, str] = {"type": "influxdb", "uid": DATASOURCE_UID}
FOLDER_UID = "vigil"
FOLDER_TITLE = "Vigil"
SCHEMA_VERSION = 39
GRID_WIDTH = 24

Json = dict[str, Any]

GREEN, AMBER, RED, BLUE = "green", "orange", "red", "blue"


def target(
    ref_id: str,
    query: str,
    *,
    alias: str | None = None,
    result_format: Literal["time_series", "table"] = "time_series",
) -> Json:
    """A raw InfluxQL query target."""
    t: Json = {
        "refId": ref_id,
        "datasource": DATASOURCE,
        "query": query,
        "rawQuery": True,
        "resultFormat": result_format,
    }
    if alias:
        t["alias"] = alias
    return t


def thresholds(*steps: tuple[float | None, str]) -> Json:
    """Absolute thresholds: ``(None, base colour), (value, colour), ...``."""
    return {"mode": "absolute", "steps": [{"color": c, "value": v} for v, c in steps]}


NEWS2_THRESHOLDS = thresholds((None, GREEN), (5, AMBER), (7, RED))
"""NEWS2 aggregate bands: 0-4 low (green), 5-6 medium (amber), 7+ high (red)."""


def _panel(kind: str, title: str, targets: Sequence[Json], description: str, defaults: Json) -> Json:
    return {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "targets": list(targets),
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {},
    }


def timeseries(
    title: str,
    targets: Sequence[Json],
    *,
    unit: str = "short",
    description: str = "",
    stack: bool = False,
    bars: bool = False,
    threshold_steps: Json | None = None,
) -> Json:
    """A time-series (line, or bar with ``bars``) panel."""
    custom: Json = {
        "drawStyle": "bars" if bars else "line",
        "lineWidth": 1,
        "fillOpacity": 60 if bars else 10,
        "spanNulls": True,
        "showPoints": "auto",
        "stacking": {"mode": "normal" if stack else "none", "group": "A"},
    }
    defaults: Json = {"unit": unit, "custom": custom}
    if threshold_steps:
        defaults["thresholds"] = threshold_steps
        custom["thresholdsStyle"] = {"mode": "line+area"}
    panel = _panel("timeseries", title, targets, description, defaults)
    panel["options"] = {
        "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
        "tooltip": {"mode": "multi", "sort": "none"},
    }
    return panel


def stat(
    title: str,
    targets: Sequence[Json],
    *,
    unit: str = "short",
    description: str = "",
    threshold_steps: Json | None = None,
    sparkline: bool = False,
    no_value: str | None = None,
) -> Json:
    """A big-number panel coloured by thresholds, optionally with a sparkline per series.

    ``no_value`` is shown when the query returns nothing (``"0"`` for counts: InfluxQL's
    ``count()`` over no rows returns no row at all).
    """
    defaults: Json = {
        "unit": unit,
        "thresholds": threshold_steps or thresholds((None, BLUE)),
        "color": {"mode": "thresholds"},
    }
    if no_value is not None:
        defaults["noValue"] = no_value
    panel = _panel("stat", title, targets, description, defaults)
    panel["options"] = {
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        "colorMode": "background",
        "graphMode": "area" if sparkline else "none",
        "textMode": "value_and_name",
        "orientation": "auto",
    }
    return panel


def override(field_name: str, *properties: tuple[str, Any]) -> Json:
    """A field override matched by exact display name."""
    return {
        "matcher": {"id": "byName", "options": field_name},
        "properties": [{"id": k, "value": v} for k, v in properties],
    }


def table(
    title: str,
    targets: Sequence[Json],
    *,
    description: str = "",
    transformations: Sequence[Json] = (),
    overrides: Sequence[Json] = (),
    sort_by: str | None = None,
) -> Json:
    """A table panel; ``sort_by`` sorts descending by that column (users can re-sort)."""
    panel = _panel("table", title, targets, description, {"custom": {"align": "auto", "filterable": True}})
    panel["transformations"] = list(transformations)
    panel["fieldConfig"]["overrides"] = list(overrides)
    panel["options"] = {
        "showHeader": True,
        "cellHeight": "sm",
        "sortBy": [{"displayName": sort_by, "desc": True}] if sort_by else [],
    }
    return panel


def row(title: str) -> Json:
    """A (non-collapsed) row header."""
    return {"type": "row", "title": title, "collapsed": False, "panels": []}


def layout(panels: Iterable[tuple[Json, int, int]]) -> list[Json]:
    """Give each ``(panel, width, height)`` an id and a grid position, filling rows left to right.

    >>> grid = layout([(row("a"), 24, 1), ({}, 12, 8), ({}, 12, 8), ({}, 24, 8)])
    >>> [tuple(p["gridPos"].values()) for p in grid]
    [(1, 24, 0, 0), (8, 12, 0, 1), (8, 12, 12, 1), (8, 24, 0, 9)]
    """
    out: list[Json] = []
    x = y = line_height = 0
    for panel_id, (panel, width, height) in enumerate(panels, start=1):
        if x + width > GRID_WIDTH:
            x, y, line_height = 0, y + line_height, 0
        out.append({**panel, "id": panel_id, "gridPos": {"h": height, "w": width, "x": x, "y": y}})
        x += width
        line_height = max(line_height, height)
    return out


def dashboard(
    uid: str,
    title: str,
    panels: Iterable[tuple[Json, int, int]],
    *,
    description: str,
    variables: Sequence[Json] = (),
    annotations: Sequence[Json] = (),
    links: Sequence[Json] = (),
    refresh: str = "30s",
    time_from: str = "now-6h",
) -> Json:
    """A complete dashboard model (the ``dashboard`` object of ``POST /api/dashboards/db``)."""
    builtin = {
        "builtIn": 1,
        "datasource": {"type": "grafana", "uid": "-- Grafana --"},
        "enable": True,
        "hide": True,
        "iconColor": "rgba(0, 211, 255, 1)",
        "name": "Annotations & Alerts",
        "type": "dashboard",
    }
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["vigil"],
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "refresh": refresh,
        "schemaVersion": SCHEMA_VERSION,
        "time": {"from": time_from, "to": "now"},
        "templating": {"list": list(variables)},
        "annotations": {"list": [builtin, *annotations]},
        "links": list(links),
        "panels": layout(panels),
    }


def query_variable(name: str, label: str, query: str, *, multi: bool = False) -> Json:
    """A template variable filled by an InfluxQL query (e.g. ``SHOW TAG VALUES``)."""
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "query": query,
        "definition": query,
        "refresh": 2,
        "sort": 1,
        "multi": multi,
        "includeAll": multi,
        "current": {},
        "options": [],
    }


def dashboard_link(title: str, uid: str, *, keep_time: bool = True) -> Json:
    """A link to another Vigil dashboard by uid (time range carried over)."""
    return {
        "title": title,
        "type": "link",
        "url": f"/d/{uid}",
        "keepTime": keep_time,
        "targetBlank": False,
        "icon": "dashboard",
        "tooltip": "",
        "asDropdown": False,
        "includeVars": False,
        "tags": [],
    }
