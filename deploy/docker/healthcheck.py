"""Container health checks for the Vigil image (standard library only).

    vigil-healthcheck http http://127.0.0.1:8080/readyz   # 2xx within the timeout
    vigil-healthcheck tcp kafka:9092 mosquitto:1883        # every address accepts a connection

Exit status 0 when healthy, 1 otherwise with the reason on stderr.
"""

from __future__ import annotations

import argparse
import socket
import sys
import urllib.error
import urllib.request


def check_http(url: str, timeout: float) -> str | None:
    """``None`` when ``GET url`` answers 2xx, else why not."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return None if 200 <= resp.status < 300 else f"{url} answered {resp.status}"
    except (urllib.error.URLError, OSError) as exc:
        return f"{url}: {exc}"


def check_tcp(address: str, timeout: float) -> str | None:
    """``None`` when ``host:port`` accepts a TCP connection, else why not."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return None
    except (OSError, ValueError) as exc:
        return f"{address}: {exc}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vigil-healthcheck", description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["http", "tcp"])
    parser.add_argument("targets", nargs="+", help="URLs (http) or host:port addresses (tcp)")
    parser.add_argument("--timeout", type=float, default=3.0)
    args = parser.parse_args(argv)
    check = check_http if args.kind == "http" else check_tcp
    problems = [p for p in (check(t, args.timeout) for t in args.targets) if p]
    for problem in problems:
        print(f"unhealthy: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
