"""The simulator's Kafka and MQTT sinks against the local services."""

from __future__ import annotations

import itertools
import threading

import orjson
import paho.mqtt.client as mqtt

from ingest.adapters import from_native_json
from ingest.reading import Reading
from ingest.simulator import CohortConfig, simulate_cohort
from ingest.simulator.sinks import send_to_kafka, send_to_mqtt
from tests.integration.helpers import consume_all, create_topics, wait_for
from vigil.settings import Settings

COHORT = CohortConfig(patients=3, days=0.25, seed=2)


def test_kafka_sink_delivers_every_reading_keyed_by_patient(service_settings: Settings) -> None:
    create_topics(service_settings, [service_settings.topics.readings])
    readings = list(itertools.islice(simulate_cohort(COHORT).readings(), 400))
    assert send_to_kafka(readings, service_settings, batch=150) == len(readings)
    values = consume_all(service_settings, service_settings.topics.readings, len(readings))
    assert sorted(Reading.from_json(v).reading_id for v in values) == sorted(r.reading_id for r in readings)


def test_mqtt_sink_publishes_native_payloads_per_device(
    service_settings: Settings, mqtt_address: tuple[str, int], unique_name: str
) -> None:
    host, port = mqtt_address
    topic_filter = f"vigil/{unique_name}/+/readings"
    settings = service_settings.model_copy(
        update={
            "mqtt": service_settings.mqtt.model_copy(
                update={"host": host, "port": port, "topic_filter": topic_filter}
            )
        }
    )
    readings = list(itertools.islice(simulate_cohort(COHORT).readings(), 120))
    got: list[Reading] = []
    subscribed = threading.Event()

    def on_message(_c: object, _u: object, msg: mqtt.MQTTMessage) -> None:
        device = msg.topic.split("/")[2]
        got.extend(from_native_json(orjson.loads(msg.payload), device_id=device, patient_id=None).accepted)

    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{unique_name}-sub")
    sub.on_message = on_message
    sub.on_subscribe = lambda *a: subscribed.set()
    sub.connect(host, port)
    sub.subscribe(topic_filter, qos=1)
    sub.loop_start()
    try:
        assert subscribed.wait(10)
        assert send_to_mqtt(readings, settings, batch=40) == len(readings)
        wait_for(lambda: len(got) >= len(readings), timeout=15, what="MQTT messages")
    finally:
        sub.loop_stop()
        sub.disconnect()
    assert sorted((r.reading_id, r.device_id, r.value) for r in got) == sorted(
        (r.reading_id, r.device_id, r.value) for r in readings
    )
