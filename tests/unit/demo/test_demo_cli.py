"""``vigil demo`` end to end (small ward): files written, injected episodes alerted, report self-contained."""

from __future__ import annotations

import csv
import re
from datetime import datetime
from pathlib import Path

import orjson
from typer.testing import CliRunner

from vigil.cli import app


def test_demo_writes_outputs_and_alerts_on_injected_episodes(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    args = [
        "demo",
        "--out",
        str(out),
        "--patients",
        "12",
        "--days",
        "0.5",
        "--episode-rate",
        "2",
        "--seed",
        "3",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "Run summary" in result.output  # not a terminal: a printed summary instead of the live view
    episodes = [orjson.loads(line) for line in (out / "episodes.jsonl").read_bytes().splitlines()]
    assert episodes, "the seed should inject episodes"
    with (out / "alerts.csv").open(newline="") as f:
        alerts = list(csv.DictReader(f))
    clinical = [a for a in alerts if a["kind"] in {"news2", "hard_limit", "anomaly", "multivariate"}]

    def alerted(ep: dict[str, str]) -> bool:
        start = datetime.fromisoformat(ep["start"])
        end = datetime.fromisoformat(ep["end"]) if ep["end"] else None
        return any(
            a["patient_id"] == ep["patient_id"]
            and datetime.fromisoformat(a["start"]) >= start
            and (end is None or datetime.fromisoformat(a["start"]) <= end)
            for a in clinical
        )

    assert any(alerted(ep) for ep in episodes)
    with (out / "scores.csv").open(newline="") as f:
        scores = list(csv.DictReader(f))
    assert len(scores) > 1000
    assert all(0.0 <= float(r["score"]) <= 1.0 for r in scores)
    html = (out / "report.html").read_text(encoding="utf-8")
    assert (
        re.search(r"<script[^>]*\bsrc=", html) is None and "Plotly.newPlot" in html
    )  # inline: opens offline
    assert (out / "report.html").stat().st_size < 10_000_000


def test_demo_is_deterministic_for_a_seed(tmp_path: Path) -> None:
    runs = []
    for name in ("a", "b"):
        out = tmp_path / name
        args = ["demo", "--out", str(out), "--patients", "5", "--days", "0.25", "--seed", "11", "--no-report"]
        assert CliRunner().invoke(app, args).exit_code == 0
        runs.append(((out / "alerts.csv").read_bytes(), (out / "scores.csv").read_bytes()))
    assert runs[0] == runs[1]
