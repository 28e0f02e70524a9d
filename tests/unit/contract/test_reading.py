"""The data contract: canonical readings, unit conversion, plausibility policy, stable ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from ingest.deadletter import DeadLetter
from ingest.metrics import CATALOGUE, Metric, metric_for_code
from ingest.reading import Quality, Reading, Rejection, make_reading, parse_time

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


def reading(**kw: object) -> Reading:
    base: dict[str, object] = {
        "patient_id": "p-1",
        "device_id": "dev-1",
        "metric": "heart_rate",
        "value": 70,
        "time": T0,
        "received": T0,
    }
    base.update(kw)
    return make_reading(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("metric", "value", "unit", "expected"),
    [
        ("body_temperature", 98.6, "[degF]", 37.0),
        ("body_weight", 154.0, "[lb_av]", 69.853),
        ("blood_glucose", 90.0, "mg/dL", 5.0),
        ("spo2", 0.97, "1", 97.0),
        ("sleep_duration", 450, "min", 7.5),
        ("systolic_bp", 16.0, "kPa", 120.01),
    ],
)
def test_units_convert_to_canonical(metric: str, value: float, unit: str, expected: float) -> None:
    r = reading(metric=metric, value=value, unit=unit)
    assert r.value == pytest.approx(expected, abs=0.01)
    assert r.unit == CATALOGUE[r.metric].unit


def test_unknown_unit_is_rejected_naming_the_field_and_accepted_units() -> None:
    with pytest.raises(Rejection) as exc:
        reading(metric="heart_rate", unit="Hz")
    assert exc.value.field == "unit"
    assert "/min" in exc.value.reason


def test_impossible_value_is_rejected_and_implausible_value_is_flagged() -> None:
    with pytest.raises(Rejection) as exc:
        reading(metric="spo2", value=140)
    assert exc.value.field == "value" and "0..100" in exc.value.reason
    probe_off = reading(metric="heart_rate", value=0)
    assert Quality.IMPLAUSIBLE in probe_off.quality and not probe_off.usable
    assert reading(metric="heart_rate", value=72).usable


def test_naive_time_needs_explicit_assumption() -> None:
    with pytest.raises(Rejection, match="timezone required"):
        reading(time="2024-05-01T08:00:00")
    assert reading(time="2024-05-01T08:00:00", assume_utc=True).time == T0
    assert parse_time("2024-05-01T09:00:00+01:00") == T0
    assert parse_time(T0.timestamp()) == T0
    assert parse_time(T0.timestamp() * 1000) == T0


def test_reading_id_is_stable_and_distinguishes_readings() -> None:
    a, b = reading(), reading(received=T0 + timedelta(hours=3))
    assert a.reading_id == b.reading_id
    assert reading(value=71).reading_id != a.reading_id
    assert reading(reading_id="device-given-id-1").reading_id == "device-given-id-1"


def test_wire_format_round_trips() -> None:
    r = reading(metric="consciousness", value="C", quality=["motion_artefact"])
    assert r.value == 1.0
    assert Reading.from_json(r.to_json()) == r


def test_wire_format_is_every_field_in_declaration_order() -> None:
    r = reading(quality=["probe_off", "late", "motion_artefact"], received=T0 + timedelta(seconds=2.5))
    assert r.to_json() == (
        b'{"reading_id":"' + r.reading_id.encode() + b'","patient_id":"p-1","device_id":"dev-1",'
        b'"metric":"heart_rate","value":70.0,"unit":"/min","time":"2024-05-01T08:00:00Z",'
        b'"received":"2024-05-01T08:00:02.500000Z","source":"wearable",'
        b'"quality":["late","motion_artefact","probe_off"]}'
    )
    assert list(r.__dict__) == list(Reading.model_fields)  # what to_json writes


def test_reading_rejects_non_utc_construction_and_non_finite_values() -> None:
    with pytest.raises(Rejection, match="finite"):
        reading(value=float("nan"))
    with pytest.raises(ValueError, match="timezone required"):
        Reading(
            reading_id="x" * 16,
            patient_id="p",
            device_id="d",
            metric=Metric.SPO2,
            value=97,
            unit="%",
            time=datetime(2024, 1, 1),
            received=T0,
        )
    local = Reading(
        reading_id="x" * 16,
        patient_id="p",
        device_id="d",
        metric=Metric.SPO2,
        value=97,
        unit="%",
        time=datetime(2024, 1, 1, 9, tzinfo=timezone(timedelta(hours=1))),
        received=T0,
    )
    assert local.time.utcoffset() == timedelta(0) and local.time.hour == 8


def test_every_catalogue_entry_is_consistent() -> None:
    for metric, spec in CATALOGUE.items():
        assert spec.loinc, metric
        assert spec.limits[0] <= spec.plausible[0] <= spec.plausible[1] <= spec.limits[1], metric
        assert metric_for_code(spec.loinc[0]) is metric
        assert spec.to_canonical(spec.plausible[0], spec.unit) == spec.plausible[0]
    assert {
        Metric.HEART_RATE,
        Metric.RESPIRATORY_RATE,
        Metric.SPO2,
        Metric.SYSTOLIC_BP,
        Metric.BODY_TEMPERATURE,
        Metric.CONSCIOUSNESS,
        Metric.SUPPLEMENTAL_OXYGEN,
    } == {m for m, s in CATALOGUE.items() if s.news2}


def test_dead_letter_keeps_the_original_bytes() -> None:
    raw = b"\x00not json\xff"
    dl = DeadLetter.of(raw, reason="not JSON", source="mqtt", stage="mqtt-bridge", field="body")
    assert DeadLetter.from_json(dl.to_json()).raw_bytes() == raw
