"""The MQTT bridge with real Mosquitto and Kafka: publish -> reading; bad payload -> dead letter;
a message Kafka did not take is not acknowledged, so the broker redelivers it."""

from __future__ import annotations

import json
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from ingest.deadletter import DeadLetter
from ingest.mqtt_bridge import MqttBridge
from ingest.producer import KafkaSink, MemorySink, Sink
from ingest.reading import Reading
from ingest.registry import DeviceRegistry
from tests.integration.helpers import consume_all, create_topics, wait_for
from vigil.settings import MqttSettings, Settings

HR = {"metric": "heart_rate", "value": 58, "time": "2024-05-01T08:00:00+01:00"}


@pytest.fixture
def settings(service_settings: Settings, mqtt_address: tuple[str, int], unique_name: str) -> Settings:
    host, port = mqtt_address
    create_topics(service_settings)
    mqtt_cfg = MqttSettings(host=host, port=port, topic_filter=f"{unique_name}/devices/+/readings")
    return service_settings.model_copy(update={"mqtt": mqtt_cfg})


@pytest.fixture
def devices() -> DeviceRegistry:
    reg = DeviceRegistry()
    reg.add("hub-1", patient_id="p-001", source="home_device")
    return reg


@pytest.fixture
def publisher(settings: Settings, unique_name: str) -> Iterator[mqtt.Client]:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{unique_name}-pub")
    client.connect(settings.mqtt.host, settings.mqtt.port)
    client.loop_start()
    yield client
    client.disconnect()
    client.loop_stop()


def start_bridge(settings: Settings, devices: DeviceRegistry, sink: Sink, client_id: str) -> MqttBridge:
    bridge = MqttBridge(settings, devices, sink, client_id=client_id)
    bridge.start()
    assert bridge.subscribed.wait(10), "bridge did not subscribe"
    return bridge


def topic(settings: Settings, device: str) -> str:
    return settings.mqtt.topic_filter.replace("+", device)


def test_publish_reaches_kafka_and_bad_payload_is_dead_lettered(
    settings: Settings, devices: DeviceRegistry, publisher: mqtt.Client, unique_name: str
) -> None:
    sink = KafkaSink(settings)
    bridge = start_bridge(settings, devices, sink, f"{unique_name}-bridge")
    try:
        publisher.publish(topic(settings, "hub-1"), json.dumps(HR), qos=1).wait_for_publish(10)
        publisher.publish(topic(settings, "hub-1"), b"\x00garbage", qos=1).wait_for_publish(10)
        publisher.publish(topic(settings, "intruder"), json.dumps(HR), qos=1).wait_for_publish(10)
        (value,) = consume_all(settings, settings.topics.readings, 1)
        reading = Reading.from_json(value)
        assert (reading.patient_id, reading.device_id, reading.value, reading.time.hour) == (
            "p-001",
            "hub-1",
            58.0,
            7,
        )
        letters = [DeadLetter.from_json(v) for v in consume_all(settings, settings.topics.dead_letter, 2)]
        assert sorted(dl.reason.split(":")[0] for dl in letters) == ["device", "not valid JSON"]
        assert {dl.stage for dl in letters} == {"mqtt-bridge"}
        wait_for(lambda: bridge.stats["messages"] == 3, 10, what="three messages handled")
    finally:
        bridge.stop()
        sink.close()


def test_unacknowledged_message_is_redelivered_after_kafka_failure(
    settings: Settings, devices: DeviceRegistry, publisher: mqtt.Client, unique_name: str
) -> None:
    client_id = f"{unique_name}-bridge"
    failing = MemorySink()
    failing.fail = RuntimeError("kafka down")
    bridge = start_bridge(settings, devices, failing, client_id)
    try:
        publisher.publish(topic(settings, "hub-1"), json.dumps(HR), qos=1).wait_for_publish(10)
        wait_for(lambda: bridge.stats["failed"] == 1, 10, what="delivery failure seen")
    finally:
        bridge.stop()
    sink = KafkaSink(settings)
    second = start_bridge(settings, devices, sink, client_id)  # same session: the broker resends the message
    try:
        (value,) = consume_all(settings, settings.topics.readings, 1, timeout=20)
        assert Reading.from_json(value).value == 58.0
    finally:
        second.stop()
        sink.close()
