"""MQTT bridge for home hubs: ``vigil/devices/<device_id>/readings`` -> the same adapters -> Kafka.

A message is acknowledged to the broker (QoS 1 PUBACK, sent manually with paho-mqtt
2.x ``manual_ack=True``) only after Kafka acknowledged its readings and dead letters.
If Kafka fails the message stays unacknowledged, and the broker redelivers it when
the bridge reconnects (the session is persistent: ``clean_session=False`` with a
fixed client id). The device id is the topic segment matching ``+`` in
``Settings.mqtt.topic_filter`` and must be registered and not revoked; its patient
comes from the device registry. Authenticating hubs is the broker's job (ACLs per
topic), outside Vigil.

>>> device_from_topic("vigil/devices/hub-7/readings", "vigil/devices/+/readings")
'hub-7'
>>> device_from_topic("vigil/other/hub-7", "vigil/devices/+/readings") is None
True
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ingest.adapters import AdapterResult, parse_payload
from ingest.producer import Sink
from ingest.registry import DeviceRegistry, RevokedCredential, UnknownCredential
from vigil.settings import Settings

log = logging.getLogger(__name__)
STAGE = "mqtt-bridge"


def device_from_topic(topic: str, topic_filter: str) -> str | None:
    """The topic segment at the filter's ``+`` (None when the topic does not match the filter)."""
    parts, pattern = topic.split("/"), topic_filter.split("/")
    if len(parts) != len(pattern) or "+" not in pattern:
        return None
    for part, want in zip(parts, pattern, strict=True):
        if want not in ("+", part):
            return None
    return parts[pattern.index("+")] or None


class MqttBridge:
    """Subscribes to device topics and forwards validated readings (and dead letters) to the sink."""

    def __init__(
        self, settings: Settings, devices: DeviceRegistry, sink: Sink, *, client_id: str = "vigil-mqtt-bridge"
    ) -> None:
        self.settings = settings
        self.devices = devices
        self.sink = sink
        self.client_id = client_id
        self.subscribed = threading.Event()
        self.client: Any = None
        self.stats = {"messages": 0, "readings": 0, "rejected": 0, "failed": 0}

    # -- the transport-free core --------------------------------------------------------------
    def process(
        self, topic: str, payload: bytes, content_type: str | None, ack: Callable[[], None]
    ) -> AdapterResult:
        """Validate one message and hand it to the sink; ``ack`` runs once the sink has everything."""
        self.stats["messages"] += 1
        device_id = device_from_topic(topic, self.settings.mqtt.topic_filter)
        result = self._parse(device_id, payload, content_type)
        letters = result.dead_letters(source="mqtt", stage=STAGE, device_id=device_id, where=f"{topic}:")
        readings = [] if result.malformed else result.accepted
        self.stats["readings"] += len(readings)
        self.stats["rejected"] += len(letters)

        def done(exc: BaseException | None) -> None:
            if exc is None:
                ack()
            else:
                self.stats["failed"] += 1
                log.warning(
                    "mqtt bridge: Kafka failed (%s); message left unacknowledged for redelivery",
                    type(exc).__name__,
                )

        self.sink.submit(readings, letters, done)
        return result

    def _parse(self, device_id: str | None, payload: bytes, content_type: str | None) -> AdapterResult:
        if device_id is None:
            return AdapterResult().reject_payload(
                "topic", "topic does not match the device topic filter", payload
            )
        self.devices.reload_if_changed()
        try:
            device = self.devices.check_active(device_id)
        except (UnknownCredential, RevokedCredential) as exc:
            return AdapterResult().reject_payload("topic", f"device: {exc}", payload)
        return parse_payload(
            payload,
            content_type,
            device_id=device.id,
            patient_id=device.patient_id,
            source=device.source,
            received=datetime.now(UTC),
        )

    # -- paho-mqtt wiring ----------------------------------------------------------------------
    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        if reason_code.is_failure:
            log.error("mqtt bridge: connection refused: %s", reason_code)
            return
        client.subscribe(self.settings.mqtt.topic_filter, qos=self.settings.mqtt.qos)

    def _on_subscribe(self, client: Any, userdata: Any, mid: Any, reason_codes: Any, properties: Any) -> None:
        self.subscribed.set()
        log.info("mqtt bridge: subscribed to %s", self.settings.mqtt.topic_filter)

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        content_type = getattr(msg.properties, "ContentType", None) if msg.properties else None
        mid, qos = msg.mid, msg.qos
        self.process(msg.topic, msg.payload, content_type, lambda: client.ack(mid, qos))

    def connect(self) -> Any:
        """Create the paho client (manual acks, persistent session) and connect it."""
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        cfg = self.settings.mqtt
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=self.client_id, clean_session=False, manual_ack=True
        )
        if cfg.username:
            client.username_pw_set(cfg.username, cfg.password.get_secret_value() if cfg.password else None)
        if cfg.tls:
            client.tls_set()
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.connect(cfg.host, cfg.port, keepalive=30)
        self.client = client
        return client

    def start(self) -> None:
        """Connect and run the network loop in a background thread."""
        self.connect().loop_start()

    def stop(self) -> None:
        if self.client is not None:
            self.client.disconnect()
            self.client.loop_stop()
            self.client = None

    def run_forever(self) -> None:
        """Connect and run the network loop in this thread (reconnecting) until interrupted."""
        self.connect().loop_forever(retry_first_connection=True)
