"""A loopback stand-in for Grafana's ``POST /api/annotations`` that checks the published request shape.

Grafana's HTTP API docs ("Create Annotation"): ``dashboardUID`` (string, optional), ``panelId`` (int,
optional), ``time`` and ``timeEnd`` (epoch ms), ``tags`` (list of strings) and ``text`` (string); the
answer is ``{"message": "Annotation added", "id": N}``. Used by the sink's contract test and by the
worker integration tests.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI, Header, HTTPException
from pydantic import BaseModel, ConfigDict

TOKEN = "test-token"


class GrafanaAnnotation(BaseModel):
    """The documented request body; anything else is a 400 like a strict Grafana would give."""

    model_config = ConfigDict(extra="forbid", strict=True)

    dashboardUID: str | None = None
    dashboardId: int | None = None
    panelId: int | None = None
    time: int
    timeEnd: int | None = None
    tags: list[str]
    text: str


def grafana_like_app(received: list[GrafanaAnnotation], fail_first: int = 0) -> FastAPI:
    api = FastAPI()
    calls = {"n": 0}

    @api.post("/api/annotations")
    def add(body: GrafanaAnnotation, authorization: str | None = Header(default=None)) -> dict[str, object]:
        calls["n"] += 1
        if calls["n"] <= fail_first:
            raise HTTPException(503, "busy")
        if authorization != f"Bearer {TOKEN}":
            raise HTTPException(401, "Unauthorized")
        if body.time <= 10**12 or (body.timeEnd is not None and body.timeEnd < body.time):
            raise HTTPException(400, "time must be epoch milliseconds, timeEnd >= time")
        received.append(body)
        return {"message": "Annotation added", "id": len(received)}

    return api


@contextmanager
def grafana_like_server(fail_first: int = 0) -> Iterator[tuple[str, list[GrafanaAnnotation]]]:
    """Run the stand-in on a free loopback port; yields its URL and the annotations it accepted."""
    received: list[GrafanaAnnotation] = []
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            grafana_like_app(received, fail_first), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    start = time.monotonic()
    while not server.started:
        assert time.monotonic() - start < 10, "loopback server did not start"
        thread.join(0.01)
    try:
        yield f"http://127.0.0.1:{port}", received
    finally:
        server.should_exit = True
        thread.join(10)
