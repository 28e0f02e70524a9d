"""The HTTP gateway in-process (httpx ASGI transport) with an in-memory sink."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fhir.resources.R4B.operationoutcome import OperationOutcome

from ingest.deadletter import DeadLetter
from ingest.gateway import create_app
from ingest.metrics import Metric
from ingest.producer import MemorySink
from ingest.registry import ClinicianRegistry, DeviceRegistry
from vigil.settings import Settings

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "fhir"
HR = {"metric": "heart_rate", "value": 64, "time": "2024-05-01T08:00:00Z"}


class Gateway:
    def __init__(self) -> None:
        self.sink = MemorySink()
        self.devices, self.clinicians = DeviceRegistry(), ClinicianRegistry()
        self.token = self.devices.add("hub-1", patient_id="example", source="home_device")
        self.revoked = self.devices.add("old-1", patient_id="example")
        self.devices.revoke("old-1")
        self.clinician = self.clinicians.add("dr-a")
        app = create_app(
            Settings(gateway={"max_body_bytes": 4096}),
            sink=self.sink,
            devices=self.devices,
            clinicians=self.clinicians,
        )
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw")

    async def post(
        self, path: str, body: Any, token: str | None = None, content_type: str = "application/json"
    ) -> httpx.Response:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"content-type": content_type, "authorization": f"Bearer {token or self.token}"}
        return await self.client.post(path, content=data, headers=headers)


@pytest.fixture
async def gw() -> AsyncIterator[Gateway]:
    g = Gateway()
    async with g.client:
        yield g


async def test_batch_answers_per_item_and_dead_letters_rejects(gw: Gateway) -> None:
    resp = await gw.post("/v1/readings", {"readings": [HR, HR | {"value": "x"}]})
    assert resp.status_code == 202
    body = resp.json()
    assert body["accepted"] == 1 and body["reading_ids"] == [gw.sink.readings[0].reading_id]
    assert body["rejected"] == [
        {"location": "readings[1].value", "field": "value", "reason": "must be a number, got str"}
    ]
    (letter,) = gw.sink.dead_letters
    assert (letter.location, letter.stage, letter.source, letter.device_id) == (
        "readings[1].value",
        "gateway",
        "http",
        "hub-1",
    )
    assert json.loads(letter.raw_bytes())["value"] == "x"
    assert gw.sink.readings[0].source.value == "home_device"


async def test_malformed_json_is_422_and_dead_lettered(gw: Gateway) -> None:
    resp = await gw.post("/v1/readings", b'{"readings": [')
    assert resp.status_code == 422 and resp.json()["rejected"][0]["location"] == "$"
    assert gw.sink.readings == [] and DeadLetter.from_json(gw.sink.dead_letters[0].to_json()).raw_bytes() == (
        b'{"readings": ['
    )


async def test_other_patient_is_rejected(gw: Gateway) -> None:
    resp = await gw.post("/v1/readings", HR | {"patient_id": "p-other"})
    assert resp.json()["rejected"][0]["reason"] == "names a different patient than the authenticated device"
    assert gw.sink.readings == []


@pytest.mark.parametrize(("token", "status"), [("nobody.x", 401), ("hub-1.wrong", 401), (None, 403)])
async def test_auth(gw: Gateway, token: str | None, status: int) -> None:
    resp = await gw.post("/v1/readings", HR, token=token or gw.revoked)
    assert resp.status_code == status
    resp = await gw.client.post("/v1/readings", json=HR)
    assert resp.status_code == 401 and resp.headers["www-authenticate"] == "Bearer"


async def test_oversize_body_is_413_with_and_without_content_length(gw: Gateway) -> None:
    assert (await gw.post("/v1/readings", b" " * 5000)).status_code == 413

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b" " * 1000

    resp = await gw.client.post(
        "/v1/readings", content=chunks(), headers={"authorization": f"Bearer {gw.token}"}
    )
    assert resp.status_code == 413 and "content-length" not in resp.request.headers


async def test_fhir_observation_and_bundle_answer_operation_outcomes(gw: Gateway) -> None:
    obs = (FIXTURES / "observation-example-bloodpressure.json").read_bytes()
    resp = await gw.post("/fhir/Observation", obs, content_type="application/fhir+json")
    assert resp.status_code == 202 and resp.headers["content-type"] == "application/fhir+json"
    OperationOutcome.model_validate(resp.json())
    assert [r.metric for r in gw.sink.readings] == [Metric.SYSTOLIC_BP, Metric.DIASTOLIC_BP]

    bundle = json.loads((FIXTURES / "bundle-transaction-vitals.json").read_text())
    bundle["entry"][0]["resource"]["valueQuantity"]["code"] = "kg"
    resp = await gw.post("/fhir", bundle, content_type="application/fhir+json")
    outcome = OperationOutcome.model_validate(resp.json())
    errors = [i for i in outcome.issue if i.severity == "error"]
    assert [i.expression for i in errors] == [["Bundle.entry[0].resource.valueQuantity.code"]]
    assert len(gw.sink.readings) == 2 + 4


async def test_fhir_endpoints_insist_on_their_resource_type(gw: Gateway) -> None:
    obs = (FIXTURES / "observation-example-heart-rate.json").read_bytes()
    resp = await gw.post("/fhir", obs, content_type="application/fhir+json")
    assert resp.status_code == 422 and resp.json()["issue"][0]["expression"] == ["Bundle.resourceType"]
    assert gw.sink.readings == []
    resp = await gw.post("/fhir/Observation", obs, token="nobody.x")
    assert resp.status_code == 401 and resp.json()["resourceType"] == "OperationOutcome"


async def test_kafka_outage_is_503_and_readyz_follows(gw: Gateway) -> None:
    assert (await gw.client.get("/readyz")).status_code == 200
    gw.sink.fail = RuntimeError("no brokers")
    resp = await gw.post("/v1/readings", HR)
    assert resp.status_code == 503 and resp.headers["retry-after"] == "5"
    assert (await gw.client.get("/readyz")).status_code == 503
    assert (await gw.client.get("/healthz")).status_code == 200


async def test_ack_endpoint(gw: Gateway) -> None:
    headers = {"authorization": f"Bearer {gw.clinician}"}
    body = {"patient_id": "example", "action": "snooze", "snooze_minutes": 30, "note": "called patient"}
    resp = await gw.client.post("/v1/alerts/al-0123456789abcdef/ack", json=body, headers=headers)
    assert resp.status_code == 202
    (ack,) = gw.sink.acks
    assert ack | {"time": None} == body | {
        "alert_id": "al-0123456789abcdef",
        "clinician_id": "dr-a",
        "time": None,
    }
    resp = await gw.client.post("/v1/alerts/al-1/ack", json=body | {"action": "forget"}, headers=headers)
    assert resp.status_code == 422 and resp.json()["detail"][0]["field"] == "body.action"
    device_headers = {"authorization": f"Bearer {gw.token}"}
    assert (await gw.client.post("/v1/alerts/al-1/ack", json=body, headers=device_headers)).status_code == 401


async def test_ack_record_matches_the_detectors_contract(gw: Gateway) -> None:
    from detectors.events import Acknowledgement

    body = {"patient_id": "example", "action": "acknowledge"}
    await gw.client.post(
        "/v1/alerts/al-1/ack", json=body, headers={"authorization": f"Bearer {gw.clinician}"}
    )
    ack = Acknowledgement.from_dict(gw.sink.acks[0])
    assert ack.to_dict() == gw.sink.acks[0]


async def test_profile_endpoint_needs_a_clinician_and_publishes_the_profile(gw: Gateway) -> None:
    headers = {"authorization": f"Bearer {gw.clinician}"}
    body = {"spo2_scale": 2, "conditions": ["copd"]}
    resp = await gw.client.put("/v1/patients/example/profile", json=body, headers=headers)
    assert resp.status_code == 202 and resp.json()["spo2_scale"] == 2
    (profile,) = gw.sink.profiles
    assert (profile.patient_id, profile.spo2_scale, profile.conditions) == ("example", 2, ("copd",))
    assert gw.sink.profile_actors == ["dr-a"]  # the clinician from the token, audited by the worker
    resp = await gw.client.put("/v1/patients/example/profile", json={"spo2_scale": 3}, headers=headers)
    assert resp.status_code == 422 and resp.json()["detail"][0]["field"] == "body.spo2_scale"
    device = {"authorization": f"Bearer {gw.token}"}
    assert (await gw.client.put("/v1/patients/example/profile", json=body, headers=device)).status_code == 401
    gw.sink.fail = RuntimeError("no brokers")
    assert (
        await gw.client.put("/v1/patients/example/profile", json=body, headers=headers)
    ).status_code == 503
    assert len(gw.sink.profiles) == 1


async def test_openapi_lists_the_endpoints(gw: Gateway) -> None:
    paths = (await gw.client.get("/openapi.json")).json()["paths"]
    assert {
        "/v1/readings",
        "/fhir/Observation",
        "/fhir",
        "/v1/alerts/{alert_id}/ack",
        "/v1/patients/{patient_id}/profile",
        "/healthz",
        "/readyz",
    } <= set(paths)
