"""One frozen settings object, read from VIGIL_* env and files, failing fast with the field's name."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from vigil.settings import Settings, load_settings


def test_defaults_point_at_local_services(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("VIGIL_KAFKA__BOOTSTRAP_SERVERS", "VIGIL_INFLUX__URL", "VIGIL_MQTT__PORT"):
        monkeypatch.delenv(name, raising=False)
    s = Settings()
    assert s.kafka.bootstrap_list == ["127.0.0.1:19092"]
    assert s.influx.url == "http://127.0.0.1:18086"
    assert s.mqtt.port == 11883


def test_env_nested_values_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_KAFKA__BOOTSTRAP_SERVERS", "a:1,b:2")
    monkeypatch.setenv("VIGIL_TOPICS__PARTITIONS", "12")
    s = load_settings()
    assert s.kafka.bootstrap_list == ["a:1", "b:2"]
    assert s.topics.partitions == 12


def test_env_file_and_secrets_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = tmp_path / "vigil.env"
    env.write_text("VIGIL_INFLUX__ORG=trust\n")
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "vigil_influx").write_text('{"token": "from-a-secret-file"}')
    monkeypatch.setenv("VIGIL_ENV_FILE", str(env))
    monkeypatch.setenv("VIGIL_SECRETS_DIR", str(secrets))
    s = load_settings()
    assert s.influx.org == "trust"
    assert s.influx.token.get_secret_value() == "from-a-secret-file"
    assert "from-a-secret-file" not in s.model_dump_json()


def test_invalid_values_fail_fast_naming_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_INFLUX__URL", "influx:8086")
    with pytest.raises(ValidationError, match=r"influx\.url"):
        load_settings()


def test_sasl_needs_credentials_and_production_refuses_local_defaults() -> None:
    with pytest.raises(ValidationError, match="sasl_mechanism"):
        Settings(kafka={"security_protocol": "SASL_SSL"})
    with pytest.raises(ValidationError, match=r"influx\.token"):
        Settings(environment="production", kafka={"security_protocol": "SSL"})


def test_settings_are_frozen() -> None:
    with pytest.raises(ValidationError):
        Settings().log_level = "DEBUG"  # type: ignore[misc]
