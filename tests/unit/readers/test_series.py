"""Generic ``timestamp,value`` series: time formats, naive timestamps, options."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.readers import RejectedRow, open_reader
from ingest.reading import Reading, Source


def test_series_reads_iso_and_epoch_and_rejects_naive_with_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "spo2.csv"
    path.write_text(
        "timestamp,value\n2024-05-01T09:00:00+01:00,97\n1714550460,96\n1714550520000,95\n"
        "2024-05-01 08:03:00,94\n2024-05-01T08:04:00Z,\n2024-05-01T08:05:00Z,101\n"
    )
    items = list(open_reader(path, "series", metric="spo2", patient="p-1"))
    readings = [i for i in items if isinstance(i, Reading)]
    assert [(r.time, r.value) for r in readings] == [
        (datetime(2024, 5, 1, 8, 0, tzinfo=UTC), 97.0),
        (datetime(2024, 5, 1, 8, 1, tzinfo=UTC), 96.0),
        (datetime(2024, 5, 1, 8, 2, tzinfo=UTC), 95.0),
    ]
    assert all(
        r.patient_id == "p-1" and r.device_id == "replay" and r.source is Source.REPLAY for r in readings
    )
    rejected = [(i.location, i.reason.split(":")[0]) for i in items if isinstance(i, RejectedRow)]
    assert rejected == [("spo2.csv:5", "time"), ("spo2.csv:6", "value"), ("spo2.csv:7", "value")]


def test_series_assume_utc_accepts_naive_timestamps(tmp_path: Path) -> None:
    path = tmp_path / "hr.csv"
    path.write_text("2024-05-01 08:03:00,64\n")
    (r,) = open_reader(path, "series", metric="heart_rate", patient="p-1", assume_utc=True)
    assert isinstance(r, Reading) and r.time == datetime(2024, 5, 1, 8, 3, tzinfo=UTC)


def test_series_needs_metric_and_patient(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("")
    with pytest.raises(ValueError, match="metric"):
        open_reader(path, "series", patient="p-1")
    with pytest.raises(ValueError, match="patient"):
        open_reader(path, "series", metric="hr")
    with pytest.raises(ValueError, match="unknown metric"):
        open_reader(path, "series", metric="mood", patient="p-1")
