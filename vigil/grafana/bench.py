"""How long generating the Grafana files and running every dashboard query take.

Used by ``vigil bench dashboards``; numbers are wall-clock milliseconds on this machine.
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from vigil.grafana.files import dashboards, render
from vigil.grafana.influxql import concrete
from vigil.grafana.provision import influxql_database
from vigil.settings import Settings


def influxql(settings: Settings, query: str) -> int:
    """Run one InfluxQL statement on ``settings.influx``; return the number of rows (errors raise)."""
    response = httpx.post(
        f"{settings.influx.url}/query",
        params={"db": influxql_database(settings.influx.bucket)},
        data={"q": query},
        headers={"Authorization": f"Token {settings.influx.token.get_secret_value()}"},
        timeout=settings.influx.timeout_ms / 1000,
    )
    response.raise_for_status()
    rows = 0
    for result in response.json().get("results", []):
        if "error" in result:
            raise RuntimeError(f"InfluxQL failed ({result['error']}): {query}")
        rows += sum(len(series["values"]) for series in result.get("series", []))
    return rows


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)


def render_ms(repeat: int) -> float:
    """Median time to build and validate every provisioning file."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        render()
        times.append(_ms(start))
    return statistics.median(times)


def query_latencies(
    settings: Settings, patient: str, hours: float, interval: str, repeat: int
) -> dict[str, Any]:
    """Run every dashboard query ``repeat`` times over the last ``hours`` for ``patient``."""
    now = datetime.now(UTC)
    per_query: list[tuple[float, str, int]] = []
    for board in dashboards(settings).values():
        for panel in (p for p in board["panels"] if p["type"] != "row"):
            for target in panel["targets"]:
                query = concrete(
                    target["query"], now - timedelta(hours=hours), now, interval, {"patient": patient}
                )
                times, rows = [], 0
                for _ in range(repeat):
                    start = time.perf_counter()
                    rows = influxql(settings, query)
                    times.append(_ms(start))
                per_query.append((statistics.median(times), f"{board['uid']} / {panel['title']}", rows))
    latencies = sorted(t for t, _, _ in per_query)
    return {
        "queries": len(per_query),
        "queries_with_rows": sum(1 for _, _, rows in per_query if rows),
        "median_ms": statistics.median(latencies),
        "p95_ms": latencies[int(0.95 * (len(latencies) - 1))],
        "max_ms": latencies[-1],
        "all_boards_ms": round(sum(latencies), 2),
        "slowest": [{"panel": name, "ms": t, "rows": rows} for t, name, rows in sorted(per_query)[-3:][::-1]],
    }
