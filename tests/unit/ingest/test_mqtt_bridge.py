"""The MQTT bridge's transport-free core: topic identity, validation, ack only after the sink has it."""

from __future__ import annotations

import json

import pytest

from ingest.mqtt_bridge import MqttBridge, device_from_topic
from ingest.producer import MemorySink
from ingest.registry import DeviceRegistry
from vigil.settings import Settings

HR = {"metric": "heart_rate", "value": 64, "time": "2024-05-01T08:00:00Z"}


@pytest.fixture
def bridge() -> MqttBridge:
    devices = DeviceRegistry()
    devices.add("hub-1", patient_id="p-001", source="home_device")
    devices.add("hub-2", patient_id="p-002")
    devices.revoke("hub-2")
    return MqttBridge(Settings(), devices, MemorySink())


def send(bridge: MqttBridge, topic: str, payload: bytes) -> list[str]:
    acks: list[str] = []
    bridge.process(topic, payload, None, lambda: acks.append(topic))
    return acks


def test_valid_message_reaches_the_sink_then_is_acked(bridge: MqttBridge) -> None:
    assert send(bridge, "vigil/devices/hub-1/readings", json.dumps([HR, HR | {"value": 65}]).encode())
    sink = bridge.sink
    assert isinstance(sink, MemorySink)
    assert [(r.patient_id, r.device_id, r.value) for r in sink.readings] == [
        ("p-001", "hub-1", 64.0),
        ("p-001", "hub-1", 65.0),
    ]


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        ("vigil/devices/hub-9/readings", json.dumps(HR).encode(), "device: device is not registered"),
        ("vigil/devices/hub-2/readings", json.dumps(HR).encode(), "device: credential 'hub-2' is revoked"),
        ("vigil/devices/hub-1/readings", b"\xff not json", "not valid JSON"),
        (
            "vigil/devices/hub-1/readings",
            json.dumps(HR | {"value": -5}).encode(),
            "outside the possible range",
        ),
    ],
)
def test_bad_messages_become_dead_letters_and_are_acked(
    bridge: MqttBridge, topic: str, payload: bytes, reason: str
) -> None:
    assert send(bridge, topic, payload) == [topic]
    sink = bridge.sink
    assert isinstance(sink, MemorySink)
    assert sink.readings == []
    (letter,) = sink.dead_letters
    assert reason in letter.reason and letter.stage == "mqtt-bridge"
    raw = letter.raw_bytes()  # the whole payload, or the offending item re-encoded
    assert raw == payload or json.loads(raw) == json.loads(payload)
    assert letter.location and letter.location.startswith(topic)


def test_kafka_failure_leaves_the_message_unacked(bridge: MqttBridge) -> None:
    sink = bridge.sink
    assert isinstance(sink, MemorySink)
    sink.fail = RuntimeError("down")
    assert send(bridge, "vigil/devices/hub-1/readings", json.dumps(HR).encode()) == []
    assert bridge.stats["failed"] == 1


def test_topic_parsing() -> None:
    assert device_from_topic("a/b/c", "a/+/c") == "b"
    assert device_from_topic("a/b/c/d", "a/+/c") is None
    assert device_from_topic("a//c", "a/+/c") is None
    assert device_from_topic("a/b/c", "a/b/c") is None
