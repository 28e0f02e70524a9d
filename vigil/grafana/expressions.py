"""Grafana alert-rule query and server-side-expression entries (the ``data`` list of a rule).

>>> influx_query("A", 'SELECT last("total") FROM "news2" WHERE time > now() - 4h', 14400)["model"]["rawQuery"]
True
>>> threshold("C", "B", "gt", 6)["model"]["conditions"][0]["evaluator"]
{'params': [6], 'type': 'gt'}
"""

from __future__ import annotations

from typing import Any, Literal

from vigil.grafana.panels import DATASOURCE, DATASOURCE_UID

EXPRESSION_UID = "__expr__"
_EXPR_DATASOURCE = {"type": "__expr__", "uid": EXPRESSION_UID}


def influx_query(ref_id: str, query: str, seconds: int) -> dict[str, Any]:
    """An InfluxQL query over the last ``seconds`` (the query should bound time itself too)."""
    return {
        "refId": ref_id,
        "relativeTimeRange": {"from": seconds, "to": 0},
        "datasourceUid": DATASOURCE_UID,
        "model": {
            "refId": ref_id,
            "datasource": DATASOURCE,
            "query": query,
            "rawQuery": True,
            "resultFormat": "time_series",
            "intervalMs": 1000,
            "maxDataPoints": 43200,
        },
    }


def _expression(ref_id: str, model: dict[str, Any]) -> dict[str, Any]:
    return {
        "refId": ref_id,
        "relativeTimeRange": {"from": 0, "to": 0},
        "datasourceUid": EXPRESSION_UID,
        "model": {"refId": ref_id, "datasource": _EXPR_DATASOURCE, **model},
    }


def reduce_last(ref_id: str, source: str) -> dict[str, Any]:
    """The latest non-null value of each series of ``source``."""
    return _expression(
        ref_id, {"type": "reduce", "expression": source, "reducer": "last", "settings": {"mode": "dropNN"}}
    )


def threshold(
    ref_id: str,
    source: str,
    kind: Literal["gt", "lt", "within_range", "outside_range"],
    *params: float,
) -> dict[str, Any]:
    """Firing where ``source`` is ``gt``/``lt`` a value or ``within_range``/``outside_range`` of two."""
    return _expression(
        ref_id,
        {
            "type": "threshold",
            "expression": source,
            "conditions": [{"evaluator": {"params": list(params), "type": kind}}],
        },
    )
