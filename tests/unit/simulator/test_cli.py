"""``vigil simulate`` end to end (file sink, and ``--from`` a recorded file)."""

from __future__ import annotations

from pathlib import Path

import orjson
from typer.testing import CliRunner

from ingest.reading import Reading
from vigil.cli import app

runner = CliRunner()


def test_simulate_writes_readings_labels_and_profiles(tmp_path: Path) -> None:
    out = tmp_path / "sim"
    result = runner.invoke(
        app,
        [
            "simulate",
            "--patients",
            "3",
            "--days",
            "0.5",
            "--seed",
            "4",
            "--episode-rate",
            "2",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    summary = orjson.loads(result.output)
    lines = (out / "readings.jsonl").read_bytes().splitlines()
    assert summary["readings"] == len(lines) > 100
    Reading.from_json(lines[0])
    assert len((out / "profiles.jsonl").read_bytes().splitlines()) == 3
    assert summary["episodes"] == len((out / "labels.jsonl").read_bytes().splitlines()) > 0


def test_simulate_from_a_recorded_file_reports_rejections(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text("timestamp,value\n2024-05-01T08:00:00Z,71\nnot-a-time,72\n1714550700,73\n")
    result = runner.invoke(
        app,
        [
            "simulate",
            "--from",
            str(src),
            "--format",
            "series",
            "--metric",
            "hr",
            "--patient",
            "p-1",
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert result.exit_code == 0, result.output
    summary = orjson.loads(result.output)
    assert summary["sent"] == 2 and summary["rejected"] == 1
    assert summary["first_rejections"][0].startswith("in.csv:3: time:")
    assert len((tmp_path / "o" / "readings.jsonl").read_bytes().splitlines()) == 2


def test_simulate_rejects_a_bad_start(tmp_path: Path) -> None:
    result = runner.invoke(app, ["simulate", "--start", "2024-05-01T08:00:00", "--out", str(tmp_path)])
    assert result.exit_code != 0
    assert "timezone required" in result.output
