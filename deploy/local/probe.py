"""Readiness probes for the local services: each makes a real request, not just a TCP connect.

Used by ``scripts/services.sh`` (as a command) and by the pytest fixtures in
``tests/integration`` (as a module), so "is it up?" means the same thing in both.

Command line (exit status 0 when the service answers, 1 otherwise; the reason on stderr)::

    python deploy/local/probe.py kafka 127.0.0.1:19092
    python deploy/local/probe.py influxdb http://127.0.0.1:18086
    python deploy/local/probe.py mqtt 127.0.0.1:11883
    python deploy/local/probe.py kafka 127.0.0.1:19092 --wait 90   # poll until ready or deadline
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

#: A probe returns ``None`` when the service answered properly, else the reason it did not.
Probe = Callable[[str, float], "str | None"]


def _describe(exc: BaseException) -> str:
    """``"ErrorType: message"`` without repeating the type when the message already starts with it.

    >>> _describe(ConnectionRefusedError(111, "Connection refused"))
    'ConnectionRefusedError: [Errno 111] Connection refused'
    """
    text, name = str(exc), type(exc).__name__
    return text if text.startswith(name) else f"{name}: {text}"


def probe_kafka(bootstrap: str, timeout: float = 5.0) -> str | None:
    """Ask the broker for its API versions and cluster metadata (kafka-python admin client)."""
    try:
        from kafka import KafkaAdminClient
    except ImportError:  # pragma: no cover - the venv has it
        return "kafka-python is not installed in this Python (run `make venv`)"
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap,
            client_id="vigil-probe",
            request_timeout_ms=int(timeout * 1000),
            bootstrap_timeout_ms=int(timeout * 1000),
        )
    except Exception as exc:
        return f"kafka at {bootstrap}: {_describe(exc)}"
    try:
        admin.list_topics()
        brokers = admin.describe_cluster().get("brokers", [])
        if not brokers:
            return f"kafka at {bootstrap}: no broker registered yet"
    except Exception as exc:
        return f"kafka at {bootstrap}: {_describe(exc)}"
    finally:
        admin.close()
    return None


def probe_influxdb(url: str, timeout: float = 5.0) -> str | None:
    """``GET /ping`` must answer 204 and ``GET /health`` must report ``"status": "pass"``."""
    base = url.rstrip("/")
    try:
        with urllib.request.urlopen(f"{base}/ping", timeout=timeout) as resp:
            if resp.status != 204:
                return f"influxdb at {base}: /ping answered {resp.status}, expected 204"
        with urllib.request.urlopen(f"{base}/health", timeout=timeout) as resp:
            health = json.loads(resp.read())
    except (OSError, ValueError) as exc:
        return f"influxdb at {base}: {_describe(exc)}"
    if health.get("status") != "pass":
        return f"influxdb at {base}: /health says {health}"
    return None


def probe_mqtt(address: str, timeout: float = 5.0) -> str | None:
    """Subscribe, publish one QoS 1 message to a unique topic and wait for it to come back (paho)."""
    try:
        import paho.mqtt.client as mqtt
    except ImportError:  # pragma: no cover - the venv has it
        return "paho-mqtt is not installed in this Python (run `make venv`)"
    host, _, port = address.rpartition(":")
    topic = f"vigil/probe/{uuid.uuid4().hex}"
    subscribed, received = threading.Event(), threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"vigil-probe-{uuid.uuid4().hex[:8]}")
    client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
    client.on_subscribe = lambda *_: subscribed.set()
    client.on_message = lambda _c, _u, msg: received.set() if msg.payload == b"ping" else None
    try:
        client.connect(host, int(port), keepalive=10)
    except OSError as exc:
        return f"mqtt at {address}: {_describe(exc)}"
    client.loop_start()
    try:
        if not subscribed.wait(timeout):
            return f"mqtt at {address}: no SUBACK within {timeout:g} s"
        client.publish(topic, b"ping", qos=1)
        if not received.wait(timeout):
            return f"mqtt at {address}: published message did not come back within {timeout:g} s"
    finally:
        client.disconnect()
        client.loop_stop()
    return None


PROBES: dict[str, Probe] = {"kafka": probe_kafka, "influxdb": probe_influxdb, "mqtt": probe_mqtt}


def wait_for(predicate: Callable[[], T | None], timeout: float, interval: float = 0.05, what: str = "") -> T:
    """Call ``predicate`` every ``interval`` s until it returns something truthy, and return that.

    Raises ``TimeoutError`` (naming ``what``) if ``timeout`` s pass first. The one poll-with-deadline
    loop for the services script and the tests.

    >>> calls = iter([0, None, 3])
    >>> wait_for(lambda: next(calls), timeout=5, interval=0)
    3
    >>> wait_for(lambda: False, timeout=0.01, what="the answer")
    Traceback (most recent call last):
    TimeoutError: the answer: not true within 0.01 s
    """
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= end:
            raise TimeoutError(
                f"{what or getattr(predicate, '__name__', 'condition')}: not true within {timeout:g} s"
            )
        time.sleep(interval)


def wait_until_ready(
    service: str, address: str, deadline_s: float, is_alive: Callable[[], bool] = lambda: True
) -> str | None:
    """Probe repeatedly until the service answers (``None``) or ``deadline_s`` passes (last reason)."""
    probe = PROBES[service]
    end = time.monotonic() + deadline_s
    reasons = ["not probed"]

    def answered() -> bool:
        if not is_alive():
            reasons.append(f"{service} process exited")
            raise ProcessLookupError(reasons[-1])
        reason = probe(address, min(5.0, max(0.5, end - time.monotonic())))
        reasons.append(reason or "")
        return reason is None

    try:
        wait_for(answered, deadline_s, interval=0.25, what=service)
    except (TimeoutError, ProcessLookupError):
        return reasons[-1]
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("service", choices=sorted(PROBES))
    parser.add_argument("address", help="host:port (kafka, mqtt) or base URL (influxdb)")
    parser.add_argument("--wait", type=float, default=0.0, help="keep probing for up to this many seconds")
    parser.add_argument("--pid", type=int, default=None, help="give up early if this process exits")
    args = parser.parse_args(argv)

    def alive() -> bool:
        if args.pid is None:
            return True
        try:
            with open(f"/proc/{args.pid}/stat") as stat:
                return stat.read().split(") ", 1)[1][0] != "Z"  # a zombie has exited
        except OSError:
            return False

    if args.wait > 0:
        reason = wait_until_ready(args.service, args.address, args.wait, alive)
    else:
        reason = PROBES[args.service](args.address, 5.0)
    if reason is not None:
        print(reason, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
