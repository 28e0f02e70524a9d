"""Native JSONL/CSV: simulate -> file -> reader round trip, and located rejections."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path
from typing import Any

import orjson
import pytest

from ingest.readers import RejectedRow, open_reader
from ingest.readers.native import FIELDS
from ingest.reading import Reading
from ingest.simulator import CohortConfig, simulate_cohort
from ingest.simulator.sinks import write_files


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Reading], object]:
    cohort = simulate_cohort(CohortConfig(patients=4, days=1.0, seed=12, episode_rate=1.0))
    out = tmp_path_factory.mktemp("sim")
    files = write_files(out, cohort.json_lines(), cohort.episodes, cohort.profiles, compress=True)
    return files.readings_path, list(cohort.readings()), cohort


def test_jsonl_round_trip_gives_the_same_readings_labels_and_profiles(simulated) -> None:  # type: ignore[no-untyped-def]
    path, readings, cohort = simulated
    reader = open_reader(path, "jsonl")
    items = list(reader)
    assert items == readings
    assert reader.labels == cohort.episodes and reader.labels
    assert reader.profiles == cohort.profiles


def test_csv_round_trip_gives_the_same_readings(simulated, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, readings, _ = simulated
    path = tmp_path / "r.csv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(FIELDS)
        for r in readings:
            d = r.to_dict()
            writer.writerow([";".join(d[k]) if k == "quality" else d[k] for k in FIELDS])
    assert list(open_reader(path, "csv")) == readings


def _rejections(path: Path, fmt: str, **kw: Any) -> list[tuple[str, str]]:
    return [(i.location, i.reason) for i in open_reader(path, fmt, **kw) if isinstance(i, RejectedRow)]


def test_jsonl_rejects_malformed_lines_with_line_numbers(tmp_path: Path) -> None:
    good = {
        "patient_id": "p1",
        "device_id": "d1",
        "metric": "heart_rate",
        "value": 70,
        "unit": "/min",
        "time": "2024-05-01T08:00:00Z",
    }
    lines = [
        orjson.dumps(good),
        b"{not json",
        orjson.dumps({**good, "value": 140, "metric": "spo2", "unit": "%"}),
        b"",
        orjson.dumps({**good, "colour": "red"}),
        orjson.dumps({**good, "time": "2024-05-01T08:00:00"}),
        orjson.dumps({**good, "unit": "furlongs"}),
        b"[1, 2]",
    ]
    path = tmp_path / "r.jsonl.gz"
    path.write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))
    rejected = _rejections(path, "jsonl")
    assert [loc for loc, _ in rejected] == [
        "r.jsonl.gz:2",
        "r.jsonl.gz:3",
        "r.jsonl.gz:5",
        "r.jsonl.gz:6",
        "r.jsonl.gz:7",
        "r.jsonl.gz:8",
    ]
    reasons = [reason for _, reason in rejected]
    assert reasons[0].startswith("$: not valid JSON")
    assert reasons[1] == "value: 140 % is outside the possible range 0..100 % for spo2"
    assert reasons[2].startswith("colour: unknown field")
    assert reasons[3].startswith("time: timezone required")
    assert reasons[4].startswith("unit: unit 'furlongs' is not accepted")
    assert reasons[5] == "$: each line must be a JSON object"
    assert len([i for i in open_reader(path, "jsonl") if isinstance(i, Reading)]) == 1


def test_csv_rejects_bad_rows_with_line_numbers_and_uses_defaults(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text(
        "metric,value,unit,time\n"
        "temperature,100.4,[degF],2024-05-01T08:00:00+01:00\n"
        "hr,abc,,2024-05-01T08:00:00Z\n"
        "hr,70,,2024-05-01T08:00:00Z,extra\n"
        "\n"
        "steps,1200,,1714550400\n"
    )
    items = list(open_reader(path, "csv", patient="p-9", device_id="dev-1"))
    good = [i for i in items if isinstance(i, Reading)]
    assert [(r.metric.value, round(r.value, 1), r.patient_id, r.device_id) for r in good] == [
        ("body_temperature", 38.0, "p-9", "dev-1"),
        ("steps", 1200.0, "p-9", "dev-1"),
    ]
    assert good[0].received == good[0].time
    assert _rejections(path, "csv", patient="p-9") == [
        ("r.csv:3", "value: 'abc' is not a number"),
        ("r.csv:4", "$: expected 4 cells, got 5"),
    ]
    assert _rejections(path, "csv")[0] == ("r.csv:2", "patient_id: is required (or give a default patient)")


def test_csv_with_an_unknown_column_fails_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("metric,value,time,colour\n")
    with pytest.raises(ValueError, match="colour"):
        list(open_reader(path, "csv"))


def test_open_reader_names_bad_format_and_path(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="format: unknown format 'xml'"):
        open_reader(tmp_path, "xml")
    with pytest.raises(ValueError, match="does not exist"):
        open_reader(tmp_path / "missing.jsonl", "jsonl")


def test_jsonl_keep_skips_other_patients_and_tags_rejections(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    rec = {
        "device_id": "d",
        "metric": "heart_rate",
        "value": 70,
        "unit": "/min",
        "time": "2024-01-01T00:00:00Z",
    }
    lines = [
        orjson.dumps(rec | {"patient_id": "a"}),
        orjson.dumps(rec | {"patient_id": "b"}),
        orjson.dumps(rec | {"patient_id": "b", "value": "x"}),
        b"{not json",
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    reader = open_reader(path, "jsonl")
    reader.keep = lambda patient_id: patient_id == "b"
    items = list(reader)
    assert [i.patient_id for i in items if isinstance(i, Reading)] == ["b"]
    rejected = [(i.location, i.patient_id) for i in items if isinstance(i, RejectedRow)]
    assert rejected == [("r.jsonl:3", "b"), ("r.jsonl:4", None)]
