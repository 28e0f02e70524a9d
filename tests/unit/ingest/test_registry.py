"""Device and clinician registries: hashed tokens at rest, 401/403 semantics, persistence."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from ingest.registry import (
    ClinicianRegistry,
    DeviceRegistry,
    RevokedCredential,
    UnknownCredential,
    hash_secret,
    verify_secret,
)


def test_hash_is_salted_and_verifies_only_the_secret() -> None:
    a, b = hash_secret("s3cret"), hash_secret("s3cret")
    assert a != b and a.startswith("scrypt$")
    assert verify_secret("s3cret", a) and not verify_secret("s3cret!", a)
    assert not verify_secret("s3cret", "md5$whatever")


def test_file_holds_hashes_only_and_reloads(tmp_path: Path) -> None:
    path = tmp_path / "devices.json"
    reg = DeviceRegistry(path)
    token = reg.add("cuff-1", patient_id="p-001", source="home_device")
    secret = token.split(".", 1)[1]
    assert secret not in path.read_text()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    again = DeviceRegistry(path)
    device = again.authenticate(token)
    assert (device.patient_id, device.source) == ("p-001", "home_device")


def test_unknown_wrong_and_revoked_tokens(tmp_path: Path) -> None:
    reg = DeviceRegistry(tmp_path / "d.json")
    token = reg.add("cuff-1", patient_id="p-001")
    for bad in ("", "cuff-1", "cuff-1.wrong", "nobody.x", token + "x"):
        with pytest.raises(UnknownCredential):
            reg.authenticate(bad)
    reg.authenticate(token)  # cached from here on
    other = DeviceRegistry(tmp_path / "d.json")
    other.revoke("cuff-1")
    reg.reload_if_changed()
    with pytest.raises(RevokedCredential):
        reg.authenticate(token)
    with pytest.raises(RevokedCredential):
        reg.check_active("cuff-1")
    with pytest.raises(UnknownCredential):
        reg.check_active("cuff-2")


def test_rekeying_invalidates_the_old_token() -> None:
    reg = ClinicianRegistry()
    old = reg.add("dr-a")
    assert reg.authenticate(old).id == "dr-a"
    new = reg.add("dr-a")
    assert reg.authenticate(new).id == "dr-a"
    with pytest.raises(UnknownCredential):
        reg.authenticate(old)


@pytest.mark.parametrize(
    ("device_id", "patient_id", "source"),
    [("bad id", "p", "wearable"), ("d", "p/1", "wearable"), ("d", "p", "tv")],
)
def test_invalid_records_are_refused(device_id: str, patient_id: str, source: str) -> None:
    with pytest.raises(ValueError):
        DeviceRegistry().add(device_id, patient_id=patient_id, source=source)


def test_malformed_file_names_the_problem(tmp_path: Path) -> None:
    path = tmp_path / "d.json"
    path.write_text('{"clinicians": {}}')
    with pytest.raises(ValueError, match="not a valid devices registry"):
        DeviceRegistry(path)
