"""Bearer-token authentication for devices and clinicians (401 unknown token, 403 revoked)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ingest.registry import RevokedCredential, UnknownCredential

bearer = HTTPBearer(auto_error=False, description="Per-device or per-clinician token `<id>.<secret>`.")


def authenticate(registry: Any, credentials: HTTPAuthorizationCredentials | None) -> Any:
    """The registry record for the bearer token, or the HTTP error to answer."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(401, "authorization: a bearer token is required", {"WWW-Authenticate": "Bearer"})
    registry.reload_if_changed()
    try:
        return registry.authenticate(credentials.credentials)
    except UnknownCredential as exc:
        raise HTTPException(401, "authorization: unknown token", {"WWW-Authenticate": "Bearer"}) from exc
    except RevokedCredential as exc:
        raise HTTPException(403, "authorization: this credential is revoked") from exc


def state(request: Request) -> Any:
    """The gateway's shared state (settings, registries, sink)."""
    return request.app.state.gateway


def clinician(
    gateway: Annotated[Any, Depends(state)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Any:
    """The clinician of the request's bearer token (a FastAPI dependency; device tokens get 401)."""
    return authenticate(gateway.clinicians, credentials)
