"""Small InfluxQL helpers: quoting, and Grafana's template macros made concrete.

>>> select_where("reading", ['mean("value")'], [eq("metric", "spo2")], group_by=["patient_id"])
'SELECT mean("value") FROM "reading" WHERE "metric" = \\'spo2\\' AND $timeFilter GROUP BY "patient_id"'
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

TIME_FILTER = "$timeFilter"
"""Grafana replaces it with the dashboard's time range (``time >= ... AND time <= ...``)."""
INTERVAL = "$__interval"
"""Grafana replaces it with a bucket width that suits the panel's width and time range."""


def ident(name: str) -> str:
    """Double-quote an identifier (measurement, tag or field name).

    >>> ident('patient_id')
    '"patient_id"'
    """
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def literal(value: str) -> str:
    """Single-quote a string literal.

    >>> literal("it's")
    "'it\\\\'s'"
    """
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def eq(tag: str, value: str) -> str:
    """``"tag" = 'value'``."""
    return f"{ident(tag)} = {literal(value)}"


def matches_variable(tag: str, variable: str) -> str:
    """A tag filter on a (possibly multi-value) Grafana variable: ``"tag" =~ /^$var$/``.

    >>> matches_variable("patient_id", "patient")
    '"patient_id" =~ /^$patient$/'
    """
    return f"{ident(tag)} =~ /^${variable}$/"


def select_where(
    measurement: str,
    columns: Sequence[str],
    conditions: Sequence[str] = (),
    *,
    group_by: Sequence[str] = (),
    by_time: str | None = None,
    fill: str | None = None,
    time_filter: str = TIME_FILTER,
) -> str:
    """One ``SELECT`` over ``measurement``, always bounded in time (``time_filter``).

    ``group_by`` are tag names; ``by_time`` (e.g. :data:`INTERVAL` or ``"1d"``) adds ``time(...)`` first.
    """
    where = " AND ".join([*conditions, time_filter])
    groups = ([f"time({by_time})"] if by_time else []) + [ident(t) for t in group_by]
    query = f"SELECT {', '.join(columns)} FROM {ident(measurement)} WHERE {where}"
    if groups:
        query += " GROUP BY " + ", ".join(groups)
    if fill is not None:
        query += f" fill({fill})"
    return query


_VARIABLE = re.compile(r"\$(\w+)")


def _epoch_ns(t: datetime) -> int:
    return int(t.astimezone(UTC).timestamp()) * 1_000_000_000


def concrete(query: str, start: datetime, end: datetime, interval: str, variables: Mapping[str, str]) -> str:
    """Replace Grafana's macros and variables with concrete values, as Grafana itself does.

    ``variables`` values are inserted as regex-escaped text (Grafana's regex formatting for
    InfluxQL); an unknown ``$name`` raises ``KeyError`` naming it, so a typo cannot pass.

    >>> t0, t1 = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 2, tzinfo=UTC)
    >>> concrete('SELECT * FROM "r" WHERE "p" =~ /^$patient$/ AND $timeFilter GROUP BY time($__interval)',
    ...          t0, t1, "1m", {"patient": "p-1"}).split(" AND ")  # doctest: +NORMALIZE_WHITESPACE
    ['SELECT * FROM "r" WHERE "p" =~ /^p\\\\-1$/', 'time >= 1704067200000000000',
     'time <= 1704153600000000000 GROUP BY time(1m)']
    """
    query = query.replace(TIME_FILTER, f"time >= {_epoch_ns(start)} AND time <= {_epoch_ns(end)}")
    query = query.replace(INTERVAL, interval)

    def _value(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in variables:
            raise KeyError(f"query uses ${name}, which has no value: {query}")
        return re.escape(variables[name]).replace("/", "\\/")

    return _VARIABLE.sub(_value, query)
