"""FHIR R4 adapter against HL7-modelled vital-signs examples, panels, bundles and bad input."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ingest.adapters import from_fhir
from ingest.metrics import Metric

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "fhir"


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def fhir(obj: Any, patient_id: str | None = "example", device_id: str | None = "hub-1"):
    return from_fhir(obj, device_id=device_id, patient_id=patient_id)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("observation-example-heart-rate.json", [(Metric.HEART_RATE, 44.0)]),
        ("observation-example-respiratory-rate.json", [(Metric.RESPIRATORY_RATE, 26.0)]),
        ("observation-example-body-temperature.json", [(Metric.BODY_TEMPERATURE, 36.5)]),
        ("observation-example-satO2.json", [(Metric.SPO2, 95.0)]),
        (
            "observation-example-bloodpressure.json",
            [(Metric.SYSTOLIC_BP, 107.0), (Metric.DIASTOLIC_BP, 60.0)],
        ),
        ("observation-body-temperature-fahrenheit.json", [(Metric.BODY_TEMPERATURE, 38.0)]),
        ("observation-body-weight-pounds.json", [(Metric.BODY_WEIGHT, 83.915)]),
        ("observation-step-count-daily.json", [(Metric.STEPS, 8042.0)]),
    ],
)
def test_hl7_vital_sign_examples_map_to_canonical_readings(name: str, expected: list) -> None:
    res = fhir(load(name))
    assert res.rejected == []
    assert [(r.metric, round(r.value, 3)) for r in res.accepted] == expected
    assert all(r.patient_id == "example" and r.device_id == "hub-1" for r in res.accepted)


def test_date_only_maps_to_noon_utc_and_offsets_convert_to_utc() -> None:
    assert fhir(load("observation-example-heart-rate.json")).accepted[0].time == datetime(
        1999, 7, 2, 12, tzinfo=UTC
    )
    assert fhir(load("observation-example-satO2.json")).accepted[0].time == datetime(
        2014, 12, 5, 8, 30, 10, tzinfo=UTC
    )


def test_effective_period_uses_end_then_start() -> None:
    obs = load("observation-step-count-daily.json")
    del obs["effectiveDateTime"]
    obs["effectivePeriod"] = {"start": "2024-05-01T00:00:00+01:00", "end": "2024-05-01T23:59:59+01:00"}
    assert fhir(obs).accepted[0].time == datetime(2024, 5, 1, 22, 59, 59, tzinfo=UTC)
    obs["effectivePeriod"] = {"start": "2024-05-01T00:00:00+01:00"}
    assert fhir(obs).accepted[0].time == datetime(2024, 4, 30, 23, tzinfo=UTC)


@pytest.mark.parametrize(
    ("change", "location", "reason_part"),
    [
        ({"effectiveDateTime": "1999-07"}, "effectiveDateTime", "full date"),
        ({"effectiveDateTime": "1999-07-02T10:00:00"}, "effectiveDateTime", "spec regex"),
        ({"status": "entered-in-error"}, "status", "carries no usable value"),
        ({"subject": {"reference": "Patient/someone-else"}}, "subject.reference", "different patient"),
        ({"subject": {"reference": "Group/ward-3"}}, "subject.reference", "must reference a Patient"),
        ({"valueQuantity": {"value": 44, "unit": "furlongs"}}, "valueQuantity.unit", "not accepted"),
        (
            {"valueQuantity": {"value": 44, "code": "kg", "system": "http://unitsofmeasure.org"}},
            "valueQuantity.code",
            "not accepted",
        ),
        ({"valueQuantity": {"value": 999, "code": "/min"}}, "valueQuantity.value", "possible range"),
        ({"valueQuantity": {"value": "abc"}}, "valueQuantity.value", "Decimal"),
        ({"code": {"coding": [{"system": "http://loinc.org", "code": "0000-0"}]}}, "code.coding", "0000-0"),
        ({"bogusField": 1}, "bogusField", "Extra inputs"),
    ],
)
def test_bad_observations_are_rejected_at_the_fhir_path(
    change: dict, location: str, reason_part: str
) -> None:
    obs = load("observation-example-heart-rate.json") | change
    res = fhir(obs)
    assert res.accepted == []
    assert res.rejected[0].location == location
    assert reason_part in res.rejected[0].reason


def test_panel_component_failures_are_per_component() -> None:
    obs = load("observation-example-bloodpressure.json")
    obs["component"][1]["valueQuantity"]["code"] = "cm[H2O]"
    res = fhir(obs)
    assert [r.metric for r in res.accepted] == [Metric.SYSTOLIC_BP]
    assert res.rejected[0].location == "component[1].valueQuantity.code"
    del obs["component"]
    assert fhir(obs).rejected[0].location == "component"


def test_mdc_code_alone_identifies_the_metric() -> None:
    obs = load("observation-example-satO2.json")
    obs["code"]["coding"] = [c for c in obs["code"]["coding"] if c["system"].startswith("urn:iso")]
    assert fhir(obs).accepted[0].metric is Metric.SPO2


def test_bundle_fans_out_and_locates_bad_entries() -> None:
    bundle = load("bundle-transaction-vitals.json")
    bundle["entry"][3]["resource"]["component"][0]["valueQuantity"]["code"] = "bar"
    bundle["entry"].append({"resource": {"resourceType": "Patient", "id": "x"}})
    bundle["entry"].append("garbage")
    res = fhir(bundle)
    assert [r.metric for r in res.accepted] == [
        Metric.HEART_RATE,
        Metric.BODY_TEMPERATURE,
        Metric.BODY_WEIGHT,
        Metric.DIASTOLIC_BP,
    ]
    assert [r.location for r in res.rejected] == [
        "entry[3].resource.component[0].valueQuantity.code",
        "entry[4].resource.resourceType",
        "entry[5]",
    ]


@pytest.mark.parametrize("bundle_type", ["transaction", "batch", "collection"])
def test_accepted_bundle_types(bundle_type: str) -> None:
    bundle = load("bundle-transaction-vitals.json") | {"type": bundle_type}
    assert len(fhir(bundle).accepted) == 5


@pytest.mark.parametrize(
    ("payload", "location"),
    [
        ({"resourceType": "Bundle", "type": "searchset", "entry": []}, "type"),
        ({"resourceType": "Bundle", "type": "batch", "entry": {}}, "entry"),
        ({"resourceType": "Patient"}, "resourceType"),
        ([1, 2], "$"),
    ],
)
def test_unusable_payloads_are_malformed(payload: Any, location: str) -> None:
    res = fhir(copy.deepcopy(payload))
    assert res.malformed and res.rejected[0].location == location


def test_without_authentication_subject_and_device_are_used() -> None:
    obs = load("observation-example-satO2.json")
    obs["device"] = {"reference": "Device/oximeter-7"}
    (r,) = fhir(obs, patient_id=None, device_id=None).accepted
    assert (r.patient_id, r.device_id) == ("example", "oximeter-7")


def test_ieee_11073_phd_style_panel_with_mdc_codes_only() -> None:
    def comp(code: str, value: float, unit: str) -> dict[str, Any]:
        coding = [{"system": "urn:iso:std:iso:11073:10101", "code": code}]
        return {
            "code": {"coding": coding},
            "valueQuantity": {"value": value, "code": unit, "system": "http://unitsofmeasure.org"},
        }

    obs = load("observation-example-bloodpressure.json")
    obs["code"] = {"coding": [{"system": "urn:iso:std:iso:11073:10101", "code": "150020"}]}
    obs["component"] = [
        comp("150021", 16, "kPa"),
        comp("150022", 80, "mm[Hg]"),
        comp("150023", 93, "mm[Hg]"),
        comp("149546", 61, "/min"),
    ]
    res = fhir(obs)
    assert [(r.metric, round(r.value)) for r in res.accepted] == [
        (Metric.SYSTOLIC_BP, 120),
        (Metric.DIASTOLIC_BP, 80),
        (Metric.HEART_RATE, 61),
    ]
    assert [r.location for r in res.rejected] == ["component[2].code.coding"]  # mean pressure: not a metric
