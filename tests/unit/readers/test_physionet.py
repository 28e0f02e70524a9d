"""PhysioNet 2019: readings per non-empty cell, sepsis labels, ages; on the shared file when present."""

from __future__ import annotations

import csv
import gzip
import itertools
from datetime import timedelta
from pathlib import Path

import pytest

from ingest.readers import RejectedRow, open_reader
from ingest.readers.physionet import COLUMNS, EPOCH
from ingest.reading import Reading

REPO = Path(__file__).resolve().parents[3]
SHARED = REPO / ".." / "shared" / "data" / "physionet2019_dev.csv.gz"
HEADER = "patient,HR,O2Sat,Temp,SBP,MAP,DBP,Resp,Age,Gender,ICULOS,SepsisLabel\n"


def test_rows_become_readings_labels_and_profiles(tmp_path: Path) -> None:
    path = tmp_path / "pn.csv"
    path.write_text(
        HEADER + "p1,,,,,,,,60,0,1,0\n"
        "p1,80,97,37.1,120,85,70,18,60,0,2,0\n"
        "p1,90,x,,,,,,60,0,3,1\n"
        "p1,100,,,,,,,60,0,4,1\n"
        "p2,70,,,,,,,45,1,1,0\n"
        "p3,70,,,,,,,50,1,,0\n"
    )
    reader = open_reader(path, "physionet2019")
    items = list(reader)
    readings = [i for i in items if isinstance(i, Reading)]
    assert len(readings) == 6 + 1 + 1 + 1
    assert readings[0].patient_id == "pn-p1" and readings[0].time == EPOCH + timedelta(hours=2)
    assert {r.metric.value for r in readings[:6]} == {m.value for m in COLUMNS.values()}
    rejected = [(i.location, i.reason.split(":")[0]) for i in items if isinstance(i, RejectedRow)]
    assert rejected == [("pn.csv:4", "O2Sat"), ("pn.csv:7", "ICULOS")]
    (label,) = reader.labels
    assert (label.patient_id, label.kind, label.start, label.end) == (
        "pn-p1",
        "sepsis",
        EPOCH + timedelta(hours=3),
        EPOCH + timedelta(hours=4),
    )
    assert [(p.patient_id, p.age) for p in reader.profiles] == [("pn-p1", 60), ("pn-p2", 45)]


def test_missing_column_fails_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "pn.csv"
    path.write_text("patient,HR,ICULOS\n")
    with pytest.raises(ValueError, match="SepsisLabel"):
        list(open_reader(path, "physionet2019"))


def test_first_20k_lines_of_the_shared_file(tmp_path: Path) -> None:
    if not SHARED.is_file():
        pytest.skip("../shared/data/physionet2019_dev.csv.gz is not available")
    head = tmp_path / "head.csv.gz"
    with gzip.open(SHARED, "rt") as src, gzip.open(head, "wt") as dst:
        lines = list(itertools.islice(src, 20_000))
        dst.writelines(lines)
    rows = list(csv.DictReader(lines))
    cells = sum(1 for row in rows for col in COLUMNS if row[col].strip())
    septic = {row["patient"] for row in rows if row["SepsisLabel"] == "1"}
    reader = open_reader(head, "physionet2019")
    items = list(reader)
    readings = sum(isinstance(i, Reading) for i in items)
    assert readings + sum(isinstance(i, RejectedRow) for i in items) == cells
    assert readings > 0.99 * cells
    assert {e.patient_id for e in reader.labels} == {f"pn-{p}" for p in septic} and septic
    assert len(reader.profiles) == len({row["patient"] for row in rows})
    for label in reader.labels:
        first = min(
            int(r["ICULOS"])
            for r in rows
            if f"pn-{r['patient']}" == label.patient_id and r["SepsisLabel"] == "1"
        )
        assert label.start == EPOCH + timedelta(hours=first)


def test_keep_skips_other_patients_but_keeps_labels_and_profiles(tmp_path: Path) -> None:
    path = tmp_path / "pn.csv"
    path.write_text(HEADER + "p1,80,x,,,,,,60,0,1,1\np2,70,y,,,,,,45,1,1,0\n,70,,,,,,,45,1,1,0\n")
    reader = open_reader(path, "physionet2019")
    reader.keep = lambda patient_id: patient_id == "pn-p2"
    items = list(reader)
    assert [i.patient_id for i in items if isinstance(i, Reading)] == ["pn-p2"]
    rejected = [i for i in items if isinstance(i, RejectedRow)]
    assert [(r.location, r.patient_id) for r in rejected] == [("pn.csv:3", "pn-p2"), ("pn.csv:4", None)]
    assert [p.patient_id for p in reader.profiles] == ["pn-p1", "pn-p2"]
    assert [e.patient_id for e in reader.labels] == ["pn-p1"]
