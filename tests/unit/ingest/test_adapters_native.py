"""Native JSON adapter: single, list and batch payloads; identity rules; located rejections."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from ingest.adapters import from_native_json
from ingest.metrics import Metric
from ingest.reading import Quality, Source

RECEIVED = datetime(2024, 5, 1, 9, tzinfo=UTC)


def native(obj: object, patient_id: str | None = "p-001", device_id: str | None = "watch-1"):
    return from_native_json(obj, device_id=device_id, patient_id=patient_id, received=RECEIVED)


def test_single_reading_is_converted_to_canonical_units() -> None:
    res = native({"metric": "8310-5", "value": 98.6, "unit": "[degF]", "time": "2024-05-01T08:00:00+02:00"})
    (r,) = res.accepted
    assert (r.metric, round(r.value, 2), r.unit) == (Metric.BODY_TEMPERATURE, 37.0, "Cel")
    assert r.time == datetime(2024, 5, 1, 6, tzinfo=UTC)
    assert (r.patient_id, r.device_id, r.received, r.source) == (
        "p-001",
        "watch-1",
        RECEIVED,
        Source.WEARABLE,
    )


def test_list_and_batch_report_each_rejection_with_its_location() -> None:
    items = [
        {"metric": "hr", "value": 70, "time": 1714550400},
        {"metric": "hr", "value": 70},
        {"metric": "nope", "value": 1, "time": 1714550400},
        "not an object",
        {"metric": "spo2", "value": 97, "time": 1714550400, "quality": ["probe_off"]},
    ]
    for payload, prefix in ((items, ""), ({"readings": items}, "readings")):
        res = native(payload)
        assert [r.metric for r in res.accepted] == [Metric.HEART_RATE, Metric.SPO2]
        assert res.accepted[1].quality == frozenset({Quality.PROBE_OFF})
        assert [r.location for r in res.rejected] == [
            f"{prefix}[1].time",
            f"{prefix}[2].metric",
            f"{prefix}[3]",
        ]
        assert res.rejected[1].reason == "unknown metric or code 'nope'"
        assert not res.malformed


@pytest.mark.parametrize(
    ("item", "location", "reason_part"),
    [
        ({"metric": "hr", "value": 70, "time": "2024-05-01T08:00:00"}, "time", "timezone required"),
        ({"metric": "hr", "value": 70, "time": 1, "valeu": 3}, "valeu", "unknown key"),
        (
            {"metric": "hr", "value": 70, "time": 1, "unit": "furlong/min"},
            "unit",
            "not accepted for heart_rate",
        ),
        ({"metric": "hr", "value": 70, "time": 1, "quality": "bad"}, "quality", "list of flag names"),
        ({"metric": "steps", "value": 10.5, "time": 1}, "value", "whole number"),
        ({"metric": "hr", "value": 70, "time": 1, "patient_id": "p-002"}, "patient_id", "different patient"),
        ({"metric": "hr", "value": 70, "time": 1, "device_id": "other"}, "device_id", "different device"),
    ],
)
def test_bad_items_are_rejected_with_field_and_reason(item: dict, location: str, reason_part: str) -> None:
    res = native(item)
    assert res.accepted == []
    assert res.rejected[0].location == location
    assert reason_part in res.rejected[0].reason


def test_without_authentication_the_payload_names_the_patient() -> None:
    item = {"metric": "hr", "value": 70, "time": 1714550400, "patient_id": "p-9", "device_id": "d-9"}
    assert native(item, patient_id=None, device_id=None).accepted[0].patient_id == "p-9"
    missing = native({"metric": "hr", "value": 70, "time": 1714550400}, patient_id=None)
    assert missing.rejected[0].reason == "a patient id is required"


@pytest.mark.parametrize("payload", [42, "text", None, {"readings": {}}, {"readings": [], "extra": 1}])
def test_wrong_shapes_mark_the_payload_malformed(payload: object) -> None:
    res = native(payload)
    assert res.malformed and res.accepted == [] and len(res.rejected) == 1


@pytest.mark.parametrize("field", ["value", "time"])
def test_huge_integers_are_rejected_not_crashing(field: str) -> None:
    item = {"metric": "hr", "value": 70, "time": 1714550400} | {field: 10**400}
    assert native(item).rejected[0].location == field


def test_canonical_reading_json_round_trips_without_authentication() -> None:
    original = native({"metric": "hr", "value": 70, "time": 1714550400}).accepted[0]
    again = from_native_json(orjson.loads(original.to_json()), device_id=None, patient_id=None)
    assert again.accepted == [original]
    stamped = native(orjson.loads(original.to_json()) | {"source": "manual"})  # authenticated: gateway stamps
    assert stamped.accepted[0].source is Source.WEARABLE and stamped.accepted[0].received == RECEIVED
    bad = from_native_json(
        orjson.loads(original.to_json()) | {"source": "tv"}, device_id=None, patient_id=None
    )
    assert bad.rejected[0].location == "source"
