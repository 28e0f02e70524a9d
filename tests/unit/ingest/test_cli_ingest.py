"""``vigil devices`` / ``vigil clinicians`` / ``vigil bench ingest --no-kafka`` through the real CLI."""

from __future__ import annotations

from pathlib import Path

import orjson
from typer.testing import CliRunner

from ingest.registry import DeviceRegistry
from vigil.cli import app

runner = CliRunner()


def test_devices_add_list_revoke(tmp_path: Path) -> None:
    reg = str(tmp_path / "devices.json")
    added = runner.invoke(
        app, ["devices", "add", "cuff-1", "--patient", "p-001", "--source", "home_device", "--registry", reg]
    )
    assert added.exit_code == 0, added.output
    token = added.output.strip()
    assert DeviceRegistry(Path(reg)).authenticate(token).patient_id == "p-001"
    listed = orjson.loads(runner.invoke(app, ["devices", "list", "--registry", reg]).output)
    assert [(d["id"], d["revoked"]) for d in listed] == [("cuff-1", False)] and "token_hash" not in listed[0]
    assert runner.invoke(app, ["devices", "revoke", "cuff-1", "--registry", reg]).exit_code == 0
    assert runner.invoke(app, ["devices", "revoke", "nobody", "--registry", reg]).exit_code == 1
    bad = runner.invoke(app, ["devices", "add", "bad id", "--patient", "p", "--registry", reg])
    assert bad.exit_code == 2


def test_clinicians_add(tmp_path: Path) -> None:
    reg = str(tmp_path / "clinicians.json")
    result = runner.invoke(app, ["clinicians", "add", "dr-a", "--registry", reg])
    assert result.exit_code == 0 and result.output.startswith("dr-a.")


def test_bench_ingest_without_kafka_prints_labelled_json() -> None:
    result = runner.invoke(
        app, ["bench", "ingest", "--no-kafka", "--readings", "2000", "--batch", "500", "--clients", "2"]
    )
    assert result.exit_code == 0, result.output
    numbers = orjson.loads(result.output)
    assert numbers["readings"] == 2000 and numbers["rejected"] == 0 and numbers["requests"] == 4
    assert numbers["kafka"].startswith("none") and numbers["readings_per_s"] > 0


def test_profiles_load_names_the_bad_line_and_sends_nothing(tmp_path: Path) -> None:
    f = tmp_path / "profiles.jsonl"
    f.write_text('{"patient_id": "p-1", "spo2_scale": 2}\n\n{"patient_id": "p 2", "spo2_scale": 1}\n')
    # no Kafka needed: the file is checked before anything is sent
    result = runner.invoke(app, ["profiles", "load", str(f), "--no-create-topics"], terminal_width=200)
    assert result.exit_code == 2
    assert "profiles.jsonl:3: patient_id:" in " ".join(result.output.split())
