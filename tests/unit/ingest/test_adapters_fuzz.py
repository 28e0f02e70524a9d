"""Property-based: garbage JSON and mutated FHIR never crash an adapter and never vanish silently."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.adapters import AdapterResult, from_fhir, from_native_json, from_openmhealth, parse_payload
from ingest.reading import Reading

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "fhir"
BUNDLE = json.loads((FIXTURES / "bundle-transaction-vitals.json").read_text())

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(
        [
            "hr",
            "8867-4",
            "/min",
            "[degF]",
            "Cel",
            "2024-05-01",
            "final",
            "2024-05-01T08:00:00Z",
            "Observation",
            "Bundle",
            "Patient/p-1",
        ]
    ),
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.sampled_from(
                [
                    "metric",
                    "value",
                    "unit",
                    "time",
                    "readings",
                    "resourceType",
                    "status",
                    "code",
                    "valueQuantity",
                    "entry",
                    "resource",
                    "header",
                    "body",
                    "x",
                ]
            ),
            children,
            max_size=5,
        ),
    ),
    max_leaves=25,
)


def check(result: AdapterResult) -> None:
    """Every outcome is a valid reading or a rejection with a field and a reason."""
    for reading in result.accepted:
        assert isinstance(reading, Reading)
        assert Reading.from_json(reading.to_json()) == reading
    for rejected in result.rejected:
        assert rejected.location and rejected.reason
        assert isinstance(rejected.field, str)
        rejected.raw_bytes()
    if result.malformed:
        assert result.accepted == [] and result.rejected


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_garbage_json_never_crashes_any_adapter(obj: Any) -> None:
    for adapter in (from_native_json, from_fhir, from_openmhealth):
        check(adapter(obj, device_id="dev-1", patient_id="p-1"))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_garbage_bytes_are_malformed_or_handled(raw: bytes) -> None:
    check(parse_payload(raw, "application/json", device_id="dev-1", patient_id="p-1"))


def _mutate(doc: Any, path: list[Any], value: Any) -> Any:
    doc = copy.deepcopy(doc)
    target = doc
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return doc


def _paths(node: Any, prefix: list[Any]) -> list[list[Any]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, [*prefix, k])
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, [*prefix, i])
    return out


PATHS = _paths(BUNDLE, [])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(PATHS), json_values)
def test_mutated_fhir_bundle_accounts_for_every_reading(path: list[Any], value: Any) -> None:
    result = from_fhir(_mutate(BUNDLE, path, value), device_id="hub-1", patient_id="example")
    check(result)
    if (
        len(path) >= 3
    ):  # a change inside one entry: the four entries each still yield a reading or a rejection
        assert len(result.accepted) + len(result.rejected) >= 4
    orjson.dumps([r.to_dict() for r in result.rejected])
