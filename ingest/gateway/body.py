"""Read a request body with a hard size limit, enforced while streaming (not only via Content-Length)."""

from __future__ import annotations

from fastapi import HTTPException, Request


async def read_limited_body(request: Request, max_bytes: int) -> bytes:
    """The request body, or HTTP 413 as soon as it exceeds ``max_bytes``."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise HTTPException(413, f"body: larger than the limit of {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise HTTPException(413, f"body: larger than the limit of {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
