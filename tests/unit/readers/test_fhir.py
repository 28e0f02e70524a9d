"""FHIR R4 files (single resource, Bundle, NDJSON, directory) through the ingest FHIR adapter."""

from __future__ import annotations

import gzip
import itertools
from pathlib import Path

import orjson

from ingest.readers import RejectedRow, open_reader
from ingest.reading import Reading
from ingest.simulator import Artefacts, CohortConfig, simulate_cohort
from ingest.simulator.bench import FHIR_METRICS, observation_for


def _obs(code: str, value: float, unit: str, when: str = "2024-05-01T09:00:00+01:00") -> dict:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "subject": {"reference": "Patient/p-001"},
        "effectiveDateTime": when,
        "valueQuantity": {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit},
    }


def test_ndjson_round_trip_of_simulated_vitals(tmp_path: Path) -> None:
    cohort = simulate_cohort(CohortConfig(patients=2, days=0.5, seed=3, artefacts=Artefacts.none()))
    records = [r for r in itertools.islice(cohort.records(), 400) if r["metric"] in FHIR_METRICS]
    path = tmp_path / "export.ndjson.gz"
    path.write_bytes(gzip.compress(b"".join(orjson.dumps(observation_for(r)) + b"\n" for r in records)))
    readings = [r for r in open_reader(path, "fhir") if isinstance(r, Reading)]
    assert [(r.patient_id, r.metric.value, r.value, r.time, r.reading_id) for r in readings] == [
        (r.patient_id, r.metric.value, r.value, r.time, r.reading_id)
        for r in map(Reading.model_validate, records)
    ]
    assert all(r.received == r.time for r in readings)


def test_directory_of_json_files_with_bundle_and_rejections(tmp_path: Path) -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": _obs("8867-4", 72, "/min")},
            {"resource": _obs("59408-5", 97, "%")},
            {"resource": _obs("8310-5", 38, "furlongs")},
        ],
    }
    (tmp_path / "a_bundle.json").write_bytes(orjson.dumps(bundle, option=orjson.OPT_INDENT_2))
    (tmp_path / "b_obs.json").write_bytes(orjson.dumps(_obs("8310-5", 100.4, "[degF]")))
    (tmp_path / "c_bad.ndjson").write_bytes(orjson.dumps(_obs("8867-4", 70, "/min")) + b"\n{oops\n")
    (tmp_path / "notes.txt").write_text("ignored")
    items = list(open_reader(tmp_path, "fhir"))
    readings = [i for i in items if isinstance(i, Reading)]
    assert [(r.metric.value, round(r.value, 1)) for r in readings] == [
        ("heart_rate", 72.0),
        ("spo2", 97.0),
        ("body_temperature", 38.0),
        ("heart_rate", 70.0),
    ]
    rejected = [(i.location, i.reason) for i in items if isinstance(i, RejectedRow)]
    assert rejected[0][0] == "a_bundle.json"
    assert rejected[0][1].startswith("entry[2].resource.valueQuantity")
    assert rejected[1][0] == "c_bad.ndjson:2" and rejected[1][1].startswith("$: not valid JSON")
    assert len(rejected) == 2
