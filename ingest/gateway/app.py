"""The HTTP ingest gateway (FastAPI): devices post readings, clinicians acknowledge alerts.

Endpoints: ``POST /v1/readings`` (native JSON or Open mHealth, single or batch),
``POST /fhir/Observation``, ``POST /fhir`` (Bundle), ``POST /v1/alerts/{alert_id}/ack``,
``GET /healthz`` (liveness), ``GET /readyz`` (Kafka reachable), OpenAPI at ``/docs``.

A request is answered 202 only after Kafka acknowledged every accepted reading and
every dead letter; a Kafka failure answers 503 (with ``Retry-After``) so the device
retries (reading ids are deterministic, so a retry cannot double-count downstream).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials

from ingest.adapters import PayloadKind, parse_payload
from ingest.deadletter import DeadLetter
from ingest.gateway.acks import router as acks_router
from ingest.gateway.auth import authenticate, bearer, state
from ingest.gateway.body import read_limited_body
from ingest.gateway.profiles import router as profiles_router
from ingest.gateway.responses import operation_outcome, outcome_for_error, summary
from ingest.producer import ProduceError, Sink
from ingest.reading import Reading
from ingest.registry import ClinicianRegistry, Device, DeviceRegistry
from vigil.settings import Settings

log = logging.getLogger(__name__)
FHIR_JSON = "application/fhir+json"


@dataclass
class GatewayState:
    """Everything a request handler needs, built once per app."""

    settings: Settings
    devices: DeviceRegistry
    clinicians: ClinicianRegistry
    sink: Sink
    timeout_s: float = 35.0


def _device(
    gateway: Annotated[GatewayState, Depends(state)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Device:
    return authenticate(gateway.devices, credentials)  # type: ignore[no-any-return]


async def deliver(sink: Sink, readings: list[Reading], letters: list[DeadLetter], timeout_s: float) -> None:
    """Hand records to the sink and wait (without blocking the event loop) until Kafka has them all."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[BaseException | None] = loop.create_future()

    def resolve(exc: BaseException | None) -> None:
        if not future.done():
            future.set_result(exc)

    def done(exc: BaseException | None) -> None:
        loop.call_soon_threadsafe(resolve, exc)

    await run_in_threadpool(sink.submit, readings, letters, done)
    try:
        exc = await asyncio.wait_for(future, timeout_s)
    except TimeoutError as err:
        raise ProduceError(f"Kafka did not acknowledge within {timeout_s:g} s") from err
    if exc is not None:
        raise ProduceError(str(exc)) from exc


async def _ingest(
    request: Request,
    gateway: GatewayState,
    device: Device,
    kind: PayloadKind | None,
    fhir_resource: str | None,
) -> Response:
    body = await read_limited_body(request, gateway.settings.gateway.max_body_bytes)
    result = parse_payload(
        body,
        request.headers.get("content-type"),
        device_id=device.id,
        patient_id=device.patient_id,
        source=device.source,
        received=datetime.now(UTC),
        kind=kind,
        resource_type=fhir_resource,
    )
    letters = result.dead_letters(source="http", stage="gateway", device_id=device.id)
    try:
        await deliver(gateway.sink, [] if result.malformed else result.accepted, letters, gateway.timeout_s)
    except ProduceError as exc:
        log.warning("gateway: Kafka unavailable, answering 503 (%s)", type(exc.__cause__).__name__)
        raise HTTPException(
            503, "kafka: the readings could not be stored, retry later", {"Retry-After": "5"}
        ) from exc
    if log.isEnabledFor(logging.DEBUG):
        log.debug("device %s: %s", device.id, result.counts())
    status = 422 if result.malformed else 202
    if fhir_resource:
        return Response(orjson.dumps(operation_outcome(result, fhir_resource)), status, media_type=FHIR_JSON)
    return Response(orjson.dumps(summary(result)), status, media_type="application/json")


READING_ROUTES = (
    (
        "/v1/readings",
        None,
        None,
        "Post readings (native JSON or Open mHealth)",
        'One reading, a list, `{"readings": [...]}`, or Open mHealth data point(s) (FHIR also works). '
        "Answers per-item accepted/rejected with reasons.",
    ),
    (
        "/fhir/Observation",
        PayloadKind.FHIR,
        "Observation",
        "Post one FHIR R4 Observation",
        "valueQuantity or a component panel (blood pressure 85354-9); answers an OperationOutcome.",
    ),
    (
        "/fhir",
        PayloadKind.FHIR,
        "Bundle",
        "Post a FHIR R4 Bundle of Observations",
        "A transaction, batch or collection Bundle; answers an OperationOutcome (one issue per rejection).",
    ),
)
"""(path, forced payload kind, FHIR resource type, summary, description) of the reading endpoints."""


def _reading_endpoint(kind: PayloadKind | None, resource: str | None) -> Any:
    async def endpoint(
        request: Request,
        gateway: Annotated[GatewayState, Depends(state)],
        device: Annotated[Device, Depends(_device)],
    ) -> Response:
        return await _ingest(request, gateway, device, kind, resource)

    return endpoint


def create_app(
    settings: Settings,
    *,
    sink: Sink,
    devices: DeviceRegistry | None = None,
    clinicians: ClinicianRegistry | None = None,
    close_sink: bool = False,
) -> FastAPI:
    """The gateway app; registries default to the files named in ``Settings.gateway``.

    ``close_sink``: close the sink (flushing Kafka) when the server shuts down.
    """

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        if close_sink:
            await run_in_threadpool(sink.close)

    app = FastAPI(
        lifespan=lifespan,
        title="Vigil ingest gateway",
        version="1",
        description="Device readings in (native JSON, Open mHealth, FHIR R4), clinician acknowledgements in.",
    )
    app.state.gateway = GatewayState(
        settings=settings,
        devices=devices or DeviceRegistry(settings.gateway.device_registry),
        clinicians=clinicians or ClinicianRegistry(settings.gateway.clinician_registry),
        sink=sink,
    )
    app.include_router(acks_router)
    app.include_router(profiles_router)
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]

    for path, kind, resource, summary_text, doc in READING_ROUTES:
        app.add_api_route(
            path,
            _reading_endpoint(kind, resource),
            methods=["POST"],
            status_code=202,
            tags=["fhir" if resource else "readings"],
            summary=summary_text,
            description=doc,
        )

    @app.get("/healthz", tags=["health"], summary="Liveness")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], summary="Readiness: Kafka reachable")
    async def readyz(gateway: Annotated[GatewayState, Depends(state)]) -> Response:
        ready = await run_in_threadpool(gateway.sink.ready)
        body = {"status": "ready" if ready else "unavailable", "kafka": ready}
        return Response(orjson.dumps(body), 200 if ready else 503, media_type="application/json")

    return app


def app_from_environment() -> FastAPI:
    """The gateway for ``uvicorn --factory`` (one per worker process): settings from the environment,
    a Kafka producer per process, closed at shutdown."""
    from ingest.producer import KafkaSink
    from vigil.settings import load_settings

    settings = load_settings()
    return create_app(settings, sink=KafkaSink(settings), close_sink=True)


async def _http_error(request: Request, exc: HTTPException) -> Response:
    if request.url.path.startswith("/fhir"):
        return Response(
            orjson.dumps(outcome_for_error(exc.status_code, str(exc.detail))),
            exc.status_code,
            headers=exc.headers,
            media_type=FHIR_JSON,
        )
    return JSONResponse({"detail": exc.detail}, exc.status_code, headers=exc.headers)


async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
    errors = [
        {"field": ".".join(str(p) for p in e.get("loc", ())), "reason": e.get("msg", "invalid")}
        for e in exc.errors()
    ]
    return JSONResponse({"detail": errors}, 422)
