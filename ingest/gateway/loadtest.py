"""Load test for ``vigil bench ingest``: batched readings through the gateway, numbers as a dict.

Two transports, reported as such: ``asgi`` runs the gateway app in this process and
drives it with ``httpx.ASGITransport`` (no sockets: measures parsing, validation and
Kafka production); ``http`` drives an already running gateway over HTTP (e.g. uvicorn
on loopback), with ``clients`` concurrent connections.
"""

from __future__ import annotations

import asyncio
import os
import platform
import resource
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson

from ingest.metrics import Metric

_VITALS = (
    (Metric.HEART_RATE, 72.0, "/min"),
    (Metric.SPO2, 97.0, "%"),
    (Metric.RESPIRATORY_RATE, 16.0, "/min"),
    (Metric.BODY_TEMPERATURE, 98.4, "[degF]"),
)


@dataclass(frozen=True)
class LoadPlan:
    """How much load, in which shape."""

    readings: int = 200_000
    batch: int = 500
    clients: int = 8


def make_batches(plan: LoadPlan, start: datetime | None = None) -> list[bytes]:
    """Distinct native-JSON batch bodies (mixed vitals, one second apart, some in Fahrenheit).

    >>> bodies = make_batches(LoadPlan(readings=4, batch=2, clients=1), datetime(2024, 1, 1, tzinfo=UTC))
    >>> len(bodies), orjson.loads(bodies[1])["readings"][0]["metric"]
    (2, 'respiratory_rate')
    """
    start = start or datetime(2024, 1, 1, tzinfo=UTC)
    bodies = []
    for b in range(plan.readings // plan.batch):
        items = []
        for i in range(plan.batch):
            n = b * plan.batch + i
            metric, value, unit = _VITALS[n % len(_VITALS)]
            when = (start + timedelta(seconds=n)).isoformat()
            items.append({"metric": metric.value, "value": value - (n % 5), "unit": unit, "time": when})
        bodies.append(orjson.dumps({"readings": items}))
    return bodies


async def _drive(
    client: httpx.AsyncClient, bodies: list[bytes], tokens: list[str], clients: int
) -> tuple[list[float], int, int]:
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    latencies: list[float] = []
    counts = [0, 0]

    async def worker(token: str) -> None:
        headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
        while not queue.empty():
            body = queue.get_nowait()
            t0 = time.perf_counter()
            resp = await client.post("/v1/readings", content=body, headers=headers)
            latencies.append(time.perf_counter() - t0)
            if resp.status_code != 202:
                raise RuntimeError(f"gateway answered {resp.status_code}: {resp.text[:200]}")
            out = orjson.loads(resp.content)
            counts[0] += out["accepted"]
            counts[1] += len(out["rejected"])

    await asyncio.gather(*(worker(tokens[i % len(tokens)]) for i in range(clients)))
    return latencies, counts[0], counts[1]


def cpu_seconds(pid: int | None = None) -> float:
    """CPU time (user + system) used so far by this process, or by process ``pid`` (Linux ``/proc``)."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_load(
    plan: LoadPlan,
    *,
    app: Any = None,
    url: str | None = None,
    tokens: list[str],
    gateway_pid: int | None = None,
) -> dict[str, Any]:
    """Drive the gateway (``app`` in-process, or a running one at ``url``) and return the numbers.

    ``gateway_cpu_s`` is the CPU time the gateway used during the run: this process's in ``asgi`` mode
    (client included), process ``gateway_pid``'s in ``http`` mode (when given). Readings per CPU-second
    is the number that survives a busy machine.
    """
    bodies = make_batches(plan)

    async def main() -> tuple[float, list[float], int, int]:
        if app is not None:
            transport: httpx.AsyncBaseTransport = httpx.ASGITransport(app=app)
            base = "http://gateway"
        else:
            transport = httpx.AsyncHTTPTransport(limits=httpx.Limits(max_connections=plan.clients))
            base = url or ""
        async with httpx.AsyncClient(transport=transport, base_url=base, timeout=60) as client:
            await _drive(client, bodies[:1], tokens, 1)  # warm-up: auth cache, Kafka metadata
            t0 = time.perf_counter()
            latencies, accepted, rejected = await _drive(client, bodies, tokens, plan.clients)
            return time.perf_counter() - t0, latencies, accepted, rejected

    measured_pid = gateway_pid if app is None else None
    cpu0 = cpu_seconds(measured_pid) if app is not None or gateway_pid else 0.0
    seconds, latencies, accepted, rejected = asyncio.run(main())
    cpu = cpu_seconds(measured_pid) - cpu0 if app is not None or gateway_pid else None
    qs = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    return {
        "readings": accepted,
        "rejected": rejected,
        "batch": plan.batch,
        "clients": plan.clients,
        "requests": len(latencies),
        "seconds": round(seconds, 3),
        "readings_per_s": round(accepted / seconds, 1),
        "gateway_cpu_s": None if cpu is None else round(cpu, 2),
        "readings_per_gateway_cpu_s": None if not cpu else round(accepted / cpu, 1),
        "requests_per_s": round(len(latencies) / seconds, 1),
        "latency_ms": {
            "p50": round(qs[49] * 1000, 2),
            "p95": round(qs[94] * 1000, 2),
            "max": round(max(latencies) * 1000, 2),
        },
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
    }
