"""Response bodies: Vigil's per-item summary, and FHIR ``OperationOutcome`` for the FHIR endpoints.

>>> from ingest.adapters import AdapterResult
>>> from ingest.reading import Rejection
>>> res = AdapterResult()
>>> res.reject("entry[1].resource.valueQuantity.unit", Rejection("unit", "unit 'x' is not accepted"))
>>> issue = operation_outcome(res)["issue"][0]
>>> issue["severity"], issue["expression"]
('error', ['Bundle.entry[1].resource.valueQuantity.unit'])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import HTTPException
from fastapi.concurrency import run_in_threadpool

from ingest.adapters import WHOLE_PAYLOAD, AdapterResult
from ingest.producer import ProduceError


def summary(result: AdapterResult) -> dict[str, Any]:
    """``{"accepted": n, "reading_ids": [...], "rejected": [{location, field, reason}]}``."""
    return {
        "accepted": len(result.accepted),
        "reading_ids": [r.reading_id for r in result.accepted],
        "rejected": [r.to_dict() for r in result.rejected],
    }


def operation_outcome(result: AdapterResult, resource: str = "Bundle") -> dict[str, Any]:
    """A FHIR R4 ``OperationOutcome``: one error issue per rejection, one information issue for the rest."""
    issues: list[dict[str, Any]] = [
        {
            "severity": "error",
            "code": "structure" if result.malformed else "invalid",
            "diagnostics": r.reason,
            "expression": [resource if r.location == WHOLE_PAYLOAD else f"{resource}.{r.location}"],
        }
        for r in result.rejected
    ]
    if not result.malformed:
        issues.append(
            {
                "severity": "information",
                "code": "informational",
                "diagnostics": f"{len(result.accepted)} reading(s) accepted, {len(result.rejected)} rejected",
            }
        )
    return {"resourceType": "OperationOutcome", "issue": issues}


def outcome_for_error(status_code: int, message: str) -> dict[str, Any]:
    """An ``OperationOutcome`` for a request-level error (auth, size, Kafka outage)."""
    code = {401: "login", 403: "forbidden", 413: "too-costly", 503: "transient"}.get(
        status_code, "processing"
    )
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": message}],
    }


async def stored_in_kafka(what: str, send: Callable[..., None], *args: Any) -> None:
    """Run a blocking ``send`` (it returns once Kafka has the record) off the event loop; a Kafka
    failure becomes 503 with ``Retry-After`` so the client retries."""
    try:
        await run_in_threadpool(send, *args)
    except ProduceError as exc:
        raise HTTPException(
            503, f"kafka: the {what} could not be stored, retry", {"Retry-After": "5"}
        ) from exc
