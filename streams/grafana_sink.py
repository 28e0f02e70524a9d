"""Alerts as Grafana annotations on the patient's dashboard, without ever blocking the stream.

:meth:`AnnotationSink.offer` only puts the alert on a bounded queue (dropping the
oldest, counted in ``dropped``, when full); a background task posts annotations with
grafana-client (``POST /api/annotations``), retrying each a bounded number of times
with backoff. Annotations are a convenience view: the durable record of every alert
is the alerts topic and the InfluxDB ``alert`` measurement.

>>> from datetime import UTC, datetime
>>> from detectors.events import AlertEvent, AlertKind, AlertStatus, Severity
>>> t = datetime(2024, 5, 1, 8, tzinfo=UTC)
>>> ev = AlertEvent("al-1", "p-1", AlertKind.HARD_LIMIT, AlertStatus.RAISED, Severity.HIGH, t, t,
...                 "SpO2 86 % below 88 %", metric="spo2")
>>> a = annotation_for(ev, dashboard_uid="vigil-patient", ack_base_url="http://vigil")
>>> a["tags"], a["time_from"]
(['vigil', 'patient:p-1', 'severity:high', 'kind:hard_limit', 'status:raised', 'metric:spo2'], 1714550400000)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from detectors.events import AlertEvent, AlertStatus
from streams.influx_sink import backoff_delays
from streams.points import ack_url
from vigil.settings import GrafanaSettings

log = logging.getLogger(__name__)

ANNOTATED = frozenset({AlertStatus.RAISED, AlertStatus.ESCALATED, AlertStatus.RESOLVED})
"""Transitions that become annotations (acknowledgements are in the ``ack`` measurement)."""

PostAnnotation = Callable[[dict[str, Any]], Awaitable[object]]


def annotation_for(event: AlertEvent, *, dashboard_uid: str, ack_base_url: str) -> dict[str, Any]:
    """Keyword arguments for grafana-client's ``annotations.add_annotation`` for one alert transition."""
    tags = [
        "vigil",
        f"patient:{event.patient_id}",
        f"severity:{event.severity.label}",
        f"kind:{event.kind.value}",
        f"status:{event.status.value}",
    ]
    if event.metric:
        tags.append(f"metric:{event.metric}")
    end = event.end if event.status is AlertStatus.RESOLVED and event.end else None
    text = (
        f"[{event.severity.label.upper()} {event.status.value}] {event.message} "
        f"(alert {event.alert_id}; acknowledge: {ack_url(ack_base_url, event.alert_id)})"
    )
    # a region from start to end for a resolved alert (ordered: a late reading can resolve "before" the start)
    span = sorted((event.start, end)) if end else [event.time, None]
    return {
        "dashboard_uid": dashboard_uid,
        "time_from": int(span[0].timestamp() * 1000),  # type: ignore[union-attr]
        "time_to": int(span[1].timestamp() * 1000) if span[1] else None,
        "tags": tags,
        "text": text,
    }


def grafana_poster(settings: GrafanaSettings) -> PostAnnotation:
    """A poster using grafana-client's async API (token from Settings)."""
    from grafana_client import AsyncGrafanaApi

    credential = settings.token.get_secret_value() if settings.token else None
    api = AsyncGrafanaApi.from_url(settings.url, credential=credential)

    async def post(kwargs: dict[str, Any]) -> object:
        return await api.annotations.add_annotation(**kwargs)

    return post


class AnnotationSink:
    """Bounded, non-blocking queue of annotations with a background poster."""

    def __init__(
        self,
        settings: GrafanaSettings,
        post: PostAnnotation | None = None,
        *,
        maxsize: int = 10_000,
        attempts: int = 5,
        backoff_start_s: float = 0.2,
    ) -> None:
        self.settings = settings
        self._post = post
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=maxsize)
        self._attempts = attempts
        self._backoff_start = backoff_start_s
        self._task: asyncio.Task[None] | None = None
        self.posted = 0
        self.failed = 0
        self.dropped = 0

    def start(self) -> None:
        """Start the background poster (inside the running event loop)."""
        if self._post is None:
            self._post = grafana_poster(self.settings)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="grafana-annotations")

    async def stop(self, drain_timeout_s: float = 5.0) -> None:
        """Give queued annotations a short chance to go out, then stop."""
        if self._task is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), drain_timeout_s)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    def offer(self, event: AlertEvent) -> None:
        """Queue an annotation for ``event`` if it is an annotated transition; never blocks."""
        if event.status not in ANNOTATED:
            return
        item = annotation_for(
            event, dashboard_uid=self.settings.patient_dashboard_uid, ack_base_url=self.settings.ack_base_url
        )
        while True:
            try:
                self._queue.put_nowait(item)
                return
            except asyncio.QueueFull:
                self._queue.get_nowait()
                self._queue.task_done()
                self.dropped += 1

    async def drained(self) -> None:
        """Wait until everything queued so far was posted or given up on."""
        await self._queue.join()

    async def _run(self) -> None:
        while True:
            item = await self._queue.get()
            try:
                await self._post_with_retries(item)
            finally:
                self._queue.task_done()

    async def _post_with_retries(self, item: dict[str, Any]) -> None:
        assert self._post is not None
        delays = backoff_delays(self._backoff_start)
        error = ""
        for attempt in range(1, self._attempts + 1):
            try:
                await self._post(item)
                self.posted += 1
                return
            except Exception as exc:
                status = getattr(exc, "status_code", None)
                error = f"{type(exc).__name__} {status or ''}".strip()
                log.debug(
                    "grafana annotation failed (attempt %d/%d): %s %s",
                    attempt,
                    self._attempts,
                    type(exc).__name__,
                    status,
                )
                if isinstance(status, int) and 400 <= status < 500 and status != 429:
                    break  # a client error will not go away by retrying
                if attempt < self._attempts:
                    await asyncio.sleep(next(delays))
        self.failed += 1
        log.warning("grafana annotation given up (%d failed so far): %s", self.failed, error)
