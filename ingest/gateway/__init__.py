"""The HTTP ingest gateway: see :mod:`ingest.gateway.app`."""

from ingest.gateway.app import GatewayState, create_app

__all__ = ["GatewayState", "create_app"]
