"""Gateway + real producer + real Kafka: HL7 FHIR vital signs, conversions, bundles, dead letters."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from ingest.deadletter import DeadLetter
from ingest.gateway import create_app
from ingest.producer import KafkaSink
from ingest.reading import Reading
from ingest.registry import ClinicianRegistry, DeviceRegistry
from tests.integration.helpers import consume_all, consume_records, create_topics
from vigil.settings import Settings

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "fhir"
FHIR = {"content-type": "application/fhir+json"}


@pytest.fixture
def sink(service_settings: Settings) -> Iterator[KafkaSink]:
    create_topics(service_settings)
    sink = KafkaSink(service_settings)
    yield sink
    sink.close()


@pytest.fixture
async def client(service_settings: Settings, sink: KafkaSink) -> AsyncIterator[httpx.AsyncClient]:
    devices, clinicians = DeviceRegistry(), ClinicianRegistry()
    token = devices.add("hub-1", patient_id="example", source="home_device")
    clinician = clinicians.add("dr-a")
    app = create_app(service_settings, sink=sink, devices=devices, clinicians=clinicians)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://gw",
        headers={"authorization": f"Bearer {token}"},
    ) as c:
        c.clinician_token = clinician  # type: ignore[attr-defined]
        yield c


def readings_on_kafka(settings: Settings, expected: int) -> list[Reading]:
    return [
        Reading.from_json(v) for v in consume_all(settings, settings.topics.readings, expected, timeout=30)
    ]


async def test_hl7_vital_sign_examples_arrive_as_canonical_readings(
    client: httpx.AsyncClient, service_settings: Settings
) -> None:
    names = ["heart-rate", "respiratory-rate", "body-temperature", "satO2", "bloodpressure"]
    for name in names:
        resp = await client.post(
            "/fhir/Observation",
            content=(FIXTURES / f"observation-example-{name}.json").read_bytes(),
            headers=FHIR,
        )
        assert resp.status_code == 202, resp.text
    got = {(r.metric.value, r.value, r.unit) for r in readings_on_kafka(service_settings, 6)}
    assert got == {
        ("heart_rate", 44.0, "/min"),
        ("respiratory_rate", 26.0, "/min"),
        ("body_temperature", 36.5, "Cel"),
        ("spo2", 95.0, "%"),
        ("systolic_bp", 107.0, "mm[Hg]"),
        ("diastolic_bp", 60.0, "mm[Hg]"),
    }


async def test_bundle_fans_out_with_unit_conversion_and_patient_keys(
    client: httpx.AsyncClient, service_settings: Settings
) -> None:
    resp = await client.post(
        "/fhir", content=(FIXTURES / "bundle-transaction-vitals.json").read_bytes(), headers=FHIR
    )
    assert resp.status_code == 202
    records = consume_records(service_settings, service_settings.topics.readings, 5)
    assert {r.key for r in records} == {b"example"}
    by_metric = {(r := Reading.from_json(rec.value)).metric.value: r for rec in records}
    assert round(by_metric["body_temperature"].value, 2) == 38.0  # 100.4 [degF]
    assert round(by_metric["body_weight"].value, 3) == 83.915  # 185 [lb_av]
    assert set(by_metric) == {"heart_rate", "body_temperature", "body_weight", "systolic_bp", "diastolic_bp"}


async def test_bad_input_lands_in_the_dead_letter_topic(
    client: httpx.AsyncClient, service_settings: Settings
) -> None:
    bad_item = {"metric": "spo2", "value": 140, "time": "2024-05-01T08:00:00Z"}
    resp = await client.post("/v1/readings", json={"readings": [bad_item]})
    assert resp.status_code == 202 and resp.json()["accepted"] == 0
    assert (await client.post("/v1/readings", content=b"{not json")).status_code == 422
    letters = [
        DeadLetter.from_json(v) for v in consume_all(service_settings, service_settings.topics.dead_letter, 2)
    ]
    by_location = {dl.location: dl for dl in letters}
    assert by_location["readings[0].value"].reason == "140 % is outside the possible range 0..100 % for spo2"
    assert orjson.loads(by_location["readings[0].value"].raw_bytes()) == bad_item
    assert by_location["$"].raw_bytes() == b"{not json"
    assert {dl.device_id for dl in letters} == {"hub-1"}
    assert readings_on_kafka(service_settings, 0) == []


async def test_ack_reaches_the_acks_topic_keyed_by_patient(
    client: httpx.AsyncClient, service_settings: Settings
) -> None:
    headers = {"authorization": f"Bearer {client.clinician_token}"}  # type: ignore[attr-defined]
    body: dict[str, Any] = {"patient_id": "example", "action": "acknowledge", "note": "seen"}
    resp = await client.post("/v1/alerts/al-0123456789abcdef/ack", json=body, headers=headers)
    assert resp.status_code == 202
    (record,) = consume_records(service_settings, service_settings.topics.acks, 1)
    assert record.key == b"example"
    assert json.loads(record.value) | {"time": None} == body | {
        "alert_id": "al-0123456789abcdef",
        "clinician_id": "dr-a",
        "snooze_minutes": None,
        "time": None,
    }


async def test_readyz_sees_kafka(client: httpx.AsyncClient) -> None:
    assert (await client.get("/readyz")).json() == {"status": "ready", "kafka": True}


def test_unreachable_kafka_is_a_clear_produce_error(service_settings: Settings) -> None:
    from ingest.producer import ProduceError

    dead = service_settings.model_copy(
        update={"kafka": service_settings.kafka.model_copy(update={"bootstrap_servers": "127.0.0.1:1"})}
    )
    sink = KafkaSink(dead, timeout_s=10)
    assert not sink.ready()
    with pytest.raises(ProduceError):
        sink.send_readings(
            [
                Reading.from_json(
                    orjson.dumps(
                        {
                            "reading_id": "0123456789abcdef",
                            "patient_id": "p",
                            "device_id": "d",
                            "metric": "heart_rate",
                            "value": 60,
                            "unit": "/min",
                            "time": "2024-01-01T00:00:00Z",
                            "received": "2024-01-01T00:00:00Z",
                        }
                    )
                )
            ]
        )
    sink.close()
