"""``vigil replay`` on every input format: canonical scores, located rejections, event-time order, alerts."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ingest.metrics import CATALOGUE, Metric
from vigil.cli import app

FIXTURES = Path(__file__).parents[2] / "fixtures"
REPLAY = FIXTURES / "replay"


def _replay(tmp_path: Path, *args: str) -> Path:
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["replay", *args, "--out", str(out), "--no-report"])
    assert result.exit_code == 0, result.output
    return out


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _check_scores(out: Path) -> list[dict[str, str]]:
    """Every scores row is canonical, scored in [0, 1] and in event-time order per patient."""
    rows = _rows(out / "scores.csv")
    last: dict[str, str] = {}
    for r in rows:
        assert r["unit"] == CATALOGUE[Metric(r["metric"])].unit
        assert 0.0 <= float(r["score"]) <= 1.0
        assert r["timestamp"] >= last.get(r["patient_id"], ""), "not in event-time order"
        last[r["patient_id"]] = r["timestamp"]
    return rows


def test_jsonl_reorders_converts_and_locates_bad_lines(tmp_path: Path) -> None:
    out = _replay(tmp_path, str(REPLAY / "readings.jsonl"), "--format", "jsonl")
    rows = _check_scores(out)
    assert len(rows) == 5
    temp = next(r for r in rows if r["metric"] == "body_temperature")
    assert (temp["value"], temp["unit"]) == ("38", "Cel")  # 100.4 [degF]
    rejected = {r["location"]: r["reason"] for r in _rows(out / "rejected.csv")}
    assert set(rejected) == {"readings.jsonl:3", "readings.jsonl:4", "readings.jsonl:8"}
    assert rejected["readings.jsonl:4"].startswith("value:")
    assert rejected["readings.jsonl:8"].startswith("time:")


def test_csv_converts_units_and_rejects_with_line_numbers(tmp_path: Path) -> None:
    out = _replay(tmp_path, str(REPLAY / "readings.csv"), "--format", "csv")
    rows = _check_scores(out)
    sbp = [float(r["value"]) for r in rows if r["metric"] == "systolic_bp"]
    assert sbp == [118.0, pytest.approx(120.01, abs=0.01)]  # 16 kPa, after the earlier 118 mm[Hg]
    assert [r["location"] for r in _rows(out / "rejected.csv")] == ["readings.csv:4", "readings.csv:7"]


def test_series_needs_and_uses_metric_and_patient(tmp_path: Path) -> None:
    out = _replay(
        tmp_path, str(REPLAY / "hr_series.csv"), "--format", "series", "--metric", "hr", "--patient", "p-9"
    )
    rows = _check_scores(out)
    assert {(r["patient_id"], r["metric"]) for r in rows} == {("p-9", "heart_rate")}
    assert [float(r["value"]) for r in rows] == [71, 72, 75]
    assert [r["location"] for r in _rows(out / "rejected.csv")] == ["hr_series.csv:4", "hr_series.csv:6"]
    missing = CliRunner().invoke(app, ["replay", str(REPLAY / "hr_series.csv"), "--format", "series",
                                       "--out", str(tmp_path / "x")])  # fmt: skip
    assert missing.exit_code != 0 and "metric" in missing.output


def test_fhir_vital_signs_become_canonical_readings(tmp_path: Path) -> None:
    # the FHIR examples span decades: a window that wide puts them all in order
    out = _replay(tmp_path, str(FIXTURES / "fhir"), "--format", "fhir", "--lateness", str(60 * 24 * 365 * 40))
    rows = _check_scores(out)
    metrics = {r["metric"] for r in rows}
    assert {
        "heart_rate",
        "spo2",
        "respiratory_rate",
        "body_temperature",
        "systolic_bp",
        "diastolic_bp",
    } <= metrics
    temps = sorted(float(r["value"]) for r in rows if r["metric"] == "body_temperature")
    assert all(30 < t < 43 for t in temps)  # Fahrenheit examples arrive in Cel


def test_physionet_labels_give_detection_and_one_alert_row_per_alert(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["replay", str(REPLAY / "physionet_small.csv"), "--format", "physionet2019", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    _check_scores(out)
    assert [r["location"] for r in _rows(out / "rejected.csv")] == ["physionet_small.csv:30"]
    alerts = _rows(out / "alerts.csv")
    assert len({a["alert_id"] for a in alerts}) == len(alerts) > 0
    assert {a["patient_id"] for a in alerts if a["kind"] in ("news2", "hard_limit")} == {
        "pn-p1"
    }  # the septic stay
    assert "Detection vs" in result.output
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Detection vs ground truth" in html and "pn-p1" in html


def test_unknown_format_is_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["replay", str(REPLAY / "readings.csv"), "--format", "xml", "--out", str(tmp_path)]
    )
    assert result.exit_code != 0


def test_thresholds_can_be_changed_per_run(tmp_path: Path) -> None:
    data = str(REPLAY / "physionet_small.csv")
    strict = _replay(
        tmp_path / "strict", data, "--format", "physionet2019", "--persist", "3/3", "--persist-minutes", "0"
    )
    eager = _replay(
        tmp_path / "eager", data, "--format", "physionet2019", "--persist", "1/1", "--persist-minutes", "0"
    )
    first = {r["kind"] + r["metric"]: r["start"] for r in reversed(_rows(strict / "alerts.csv"))}
    earlier = {r["kind"] + r["metric"]: r["start"] for r in reversed(_rows(eager / "alerts.csv"))}
    assert first and all(earlier[k] < t for k, t in first.items())  # 1-of-1 raises every alert sooner


def test_a_bad_threshold_is_refused_with_its_name(tmp_path: Path) -> None:
    args = [
        "replay",
        str(REPLAY / "readings.csv"),
        "--format",
        "csv",
        "--out",
        str(tmp_path),
        "--persist",
        "two",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code != 0 and "persist" in result.output


@pytest.mark.parametrize(
    ("name", "fmt"), [("physionet_small.csv", "physionet2019"), ("readings.jsonl", "jsonl")]
)
def test_workers_shard_patients_without_changing_results(tmp_path: Path, name: str, fmt: str) -> None:
    """--workers N gives the same alerts, rejections and scores (scores.csv rows grouped by shard)."""
    one = _replay(tmp_path / "one", str(REPLAY / name), "--format", fmt)
    many = _replay(tmp_path / "many", str(REPLAY / name), "--format", fmt, "--workers", "3")
    for name_ in ("alerts.csv", "rejected.csv"):
        assert (many / name_).read_bytes() == (one / name_).read_bytes()
    scores = _check_scores(many)
    assert sorted(map(str, scores)) == sorted(map(str, _rows(one / "scores.csv")))
    assert not list(many.glob(".shard-*"))  # the workers' folders are removed


def test_workers_cannot_write_to_influx(tmp_path: Path) -> None:
    from rich.console import Console

    from vigil.replay import ReplayOptions, run_replay
    from vigil.settings import load_settings

    opts = ReplayOptions(input=REPLAY / "readings.jsonl", fmt="jsonl", out=tmp_path, report=False, workers=2)
    with pytest.raises(ValueError, match="workers"):
        run_replay(opts, load_settings(), Console(quiet=True), extra_sinks=[object()])  # type: ignore[list-item]
