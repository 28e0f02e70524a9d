"""The batched, retried, idempotent InfluxDB writer used by the stream agents.

``await sink.write(points)`` returns only when InfluxDB has accepted every point
(the agent acknowledges the Kafka events afterwards, so their offsets are committed
only once the data is stored). Transient failures (connection refused, timeouts,
429, 5xx) are retried with capped exponential backoff *without limit*: while
InfluxDB is down the worker stops consuming (back-pressure) and nothing is lost;
after ``influx.max_retries`` attempts each further failure is logged at ERROR.
A permanent rejection (4xx) raises :class:`InfluxRejected` with the line protocol,
which the caller sends to the dead-letter topic.

Points are idempotent (see :mod:`streams.schema`), so a retried or replayed batch
overwrites itself.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
from collections.abc import Awaitable, Callable, Sequence

from influxdb_client import Point
from influxdb_client.client.influxdb_client_async import InfluxDBClientAsync
from influxdb_client.rest import ApiException
from influxdb_client.service.write_service import WriteService

from vigil.settings import InfluxSettings

log = logging.getLogger(__name__)

BACKOFF_START_S = 0.1
BACKOFF_MAX_S = 5.0
GZIP_LEVEL = 1
"""Fast gzip for the write bodies: influxdb-client's own ``enable_gzip`` compresses at level 9, which
cost the worker's event loop about 5 % of its time for a few per cent smaller bodies on the wire."""


class InfluxRejected(Exception):
    """InfluxDB refused a batch for good (bad request); ``lines`` is the batch for the dead-letter topic."""

    def __init__(self, status: int, reason: str, lines: bytes) -> None:
        super().__init__(f"influx: HTTP {status}: {reason}")
        self.status = status
        self.reason = reason
        self.lines = lines


def is_transient(exc: BaseException) -> bool:
    """True for failures worth retrying (server down, overloaded or slow).

    >>> is_transient(ConnectionRefusedError()), is_transient(ApiException(status=400))
    (True, False)
    """
    if isinstance(exc, ApiException):
        return exc.status is None or exc.status in (408, 429) or exc.status >= 500
    return isinstance(exc, OSError | asyncio.TimeoutError) or type(exc).__module__.startswith("aiohttp")


def backoff_delays(start: float = BACKOFF_START_S, cap: float = BACKOFF_MAX_S):  # type: ignore[no-untyped-def]
    """Capped exponential backoff delays, forever.

    >>> import itertools
    >>> list(itertools.islice(backoff_delays(0.1, 0.5), 5))
    [0.1, 0.2, 0.4, 0.5, 0.5]
    """
    delay = start
    while True:
        yield delay
        delay = min(cap, delay * 2)


def to_lines(points: Sequence[Point | str]) -> bytes:
    """Line protocol for a batch, one point per line."""
    return "\n".join(p if isinstance(p, str) else p.to_line_protocol() for p in points).encode()


PostLines = Callable[[bytes], Awaitable[None]]


class InfluxSink:
    """Writes batches of points; create with :meth:`connect` (or inject ``post`` in tests)."""

    def __init__(
        self,
        settings: InfluxSettings,
        post: PostLines | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self._post = post
        self._client: InfluxDBClientAsync | None = None
        self._sleep = sleep
        self.retries = 0
        self.points_written = 0

    async def connect(self) -> InfluxSink:
        """Open the HTTP client (bodies gzipped at :data:`GZIP_LEVEL`). Must run inside the event loop
        that will write."""
        if self._post is None:
            self._client = InfluxDBClientAsync(
                url=self.settings.url,
                token=self.settings.token.get_secret_value(),
                org=self.settings.org,
                timeout=self.settings.timeout_ms,
                enable_gzip=False,  # compressed here, faster
            )
            service = WriteService(self._client.api_client)

            async def post(body: bytes) -> None:
                await service.post_write_async(
                    org=self.settings.org,
                    bucket=self.settings.bucket,
                    body=gzip.compress(body, GZIP_LEVEL),
                    precision="ns",
                    content_encoding="gzip",
                    content_type="text/plain; charset=utf-8",
                    async_req=False,
                    _return_http_data_only=False,
                )

            self._post = post
        return self

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def write(self, points: Sequence[Point | str]) -> None:
        """Store every point (in chunks of ``batch_size``), retrying transient failures until they succeed."""
        size = self.settings.batch_size
        for i in range(0, len(points), size):
            await self._write_chunk(to_lines(points[i : i + size]))
            self.points_written += min(size, len(points) - i)

    async def _write_chunk(self, body: bytes) -> None:
        if self._post is None:
            raise RuntimeError("InfluxSink.connect() was not awaited")
        attempt = 0
        for delay in backoff_delays():
            try:
                await self._post(body)
                return
            except Exception as exc:
                if not is_transient(exc):
                    status = getattr(exc, "status", 0) or 0
                    reason = str(getattr(exc, "body", None) or getattr(exc, "reason", None) or exc)
                    raise InfluxRejected(status, reason[:500], body) from exc
                attempt += 1
                self.retries += 1
                level = logging.ERROR if attempt > self.settings.max_retries else logging.WARNING
                log.log(
                    level,
                    "influx write failed (attempt %d, retry in %.1fs): %s",
                    attempt,
                    delay,
                    type(exc).__name__,
                )
                await self._sleep(delay)
