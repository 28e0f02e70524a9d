"""Open mHealth adapter: the five core schemas, time frames, units and rejections."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from ingest.adapters import from_openmhealth, parse_payload
from ingest.metrics import Metric


def point(name: str, body: dict[str, Any], version: str = "2.0") -> dict[str, Any]:
    header = {"id": "b3c1", "schema_id": {"namespace": "omh", "name": name, "version": version}}
    return {"header": header, "body": body}


AT = {"effective_time_frame": {"date_time": "2024-05-01T08:00:00+01:00"}}


@pytest.mark.parametrize(
    ("name", "body", "expected"),
    [
        ("heart-rate", {"heart_rate": {"value": 61, "unit": "beats/min"}}, [(Metric.HEART_RATE, 61.0)]),
        (
            "body-temperature",
            {"body_temperature": {"value": 99.5, "unit": "F"}},
            [(Metric.BODY_TEMPERATURE, 37.5)],
        ),
        ("oxygen-saturation", {"oxygen_saturation": {"value": 96, "unit": "%"}}, [(Metric.SPO2, 96.0)]),
        ("step-count", {"step_count": 7939}, [(Metric.STEPS, 7939.0)]),
        ("step-count", {"step_count": {"value": 7939, "unit": "steps"}}, [(Metric.STEPS, 7939.0)]),
        (
            "blood-pressure",
            {
                "systolic_blood_pressure": {"value": 160, "unit": "mmHg"},
                "diastolic_blood_pressure": {"value": 60, "unit": "mmHg"},
            },
            [(Metric.SYSTOLIC_BP, 160.0), (Metric.DIASTOLIC_BP, 60.0)],
        ),
    ],
)
def test_core_schemas(name: str, body: dict, expected: list) -> None:
    res = from_openmhealth(point(name, body | AT), device_id="w-1", patient_id="p-1")
    assert res.rejected == []
    assert [(r.metric, round(r.value, 2)) for r in res.accepted] == expected
    assert res.accepted[0].time == datetime(2024, 5, 1, 7, tzinfo=UTC)


def test_time_interval_uses_end_and_lists_are_batches() -> None:
    frame = {
        "time_interval": {"start_date_time": "2024-05-01T00:00:00Z", "end_date_time": "2024-05-01T23:00:00Z"}
    }
    points = [point("step-count", {"step_count": 100, "effective_time_frame": frame}), point("nope", {})]
    res = from_openmhealth(points, device_id="w-1", patient_id="p-1")
    assert res.accepted[0].time == datetime(2024, 5, 1, 23, tzinfo=UTC)
    assert res.rejected[0].location == "[1].header.schema_id.name"


def test_bad_values_are_located_in_the_body() -> None:
    body = {"heart_rate": {"value": 61, "unit": "furlongs"}} | AT
    res = from_openmhealth(point("heart-rate", body), device_id="w-1", patient_id="p-1")
    assert res.rejected[0].location == "body.heart_rate.unit"
    res = from_openmhealth(
        point("heart-rate", {"heart_rate": {"value": 61}}), device_id="w-1", patient_id="p-1"
    )
    assert res.rejected[0].location == "effective_time_frame"


def test_payload_sniffing_routes_open_mhealth() -> None:
    body = (
        b'{"header": {"schema_id": {"name": "heart-rate"}}, "body": {"heart_rate": {"value": 50, '
        b'"unit": "beats/min"}, "effective_time_frame": {"date_time": "2024-05-01T08:00:00Z"}}}'
    )
    assert parse_payload(body, "application/json", device_id="w", patient_id="p").accepted[0].value == 50.0
