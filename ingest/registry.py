"""Device and clinician credentials: bearer tokens hashed at rest, device -> patient mapping.

A token is ``<id>.<secret>``: the id finds the record, the secret is checked
against its salted scrypt hash with a constant-time compare. Tokens are shown once,
when issued; the registry file (JSON) holds only hashes. Successful checks are
cached in memory (keyed by a hash of the token) so batching devices do not pay
scrypt on every request; revoking or reloading clears the cache.

>>> reg = DeviceRegistry()
>>> token = reg.add("watch-1", patient_id="p-001")
>>> reg.authenticate(token).patient_id
'p-001'
>>> reg.revoke("watch-1")
>>> reg.authenticate(token)
Traceback (most recent call last):
...
ingest.registry.RevokedCredential: credential 'watch-1' is revoked
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import threading
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

import orjson

from ingest.reading import ID_PATTERN, Source

_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}
_ID_RE = re.compile(ID_PATTERN)


class UnknownCredential(LookupError):
    """No such token (answer 401)."""


class RevokedCredential(PermissionError):
    """The token's owner is revoked (answer 403)."""


def hash_secret(secret: str, salt: bytes | None = None) -> str:
    """A salted scrypt hash as ``scrypt$n$r$p$salt_hex$hash_hex``."""
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, **_SCRYPT)
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${salt.hex()}${digest.hex()}"


def verify_secret(secret: str, stored: str) -> bool:
    """Constant-time check of ``secret`` against a :func:`hash_secret` string."""
    try:
        scheme, n, r, p, salt_hex, digest_hex = stored.split("$")
        if scheme != "scrypt":
            return False
        digest = hashlib.scrypt(
            secret.encode(),
            salt=bytes.fromhex(salt_hex),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(digest_hex) // 2,
        )
    except ValueError:
        return False
    return hmac.compare_digest(digest, bytes.fromhex(digest_hex))


@dataclass(frozen=True, slots=True)
class Device:
    """A registered device and the patient it measures."""

    id: str
    patient_id: str
    token_hash: str
    source: str = "wearable"
    revoked: bool = False
    created: str = ""
    description: str = ""


@dataclass(frozen=True, slots=True)
class Clinician:
    """A clinician allowed to acknowledge alerts."""

    id: str
    token_hash: str
    revoked: bool = False
    created: str = ""
    description: str = ""


R = TypeVar("R", Device, Clinician)


class _Registry(Generic[R]):
    """Records keyed by id, each with a hashed token; optionally backed by a JSON file."""

    record_type: ClassVar[type]
    key: ClassVar[str]

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._records: dict[str, R] = {}
        self._verified: dict[bytes, str] = {}
        self._lock = threading.Lock()
        self._mtime: float | None = None
        if path is not None and path.exists():
            self.reload()

    # -- persistence -------------------------------------------------------------------------
    def reload(self) -> None:
        """(Re)read the registry file; a malformed file raises ``ValueError`` naming the problem."""
        if self.path is None:
            return
        try:
            data = orjson.loads(self.path.read_bytes())
            records = {rid: self.record_type(id=rid, **rec) for rid, rec in data[self.key].items()}
        except (OSError, orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"{self.path}: not a valid {self.key} registry ({exc})") from exc
        with self._lock:
            self._records, self._verified = records, {}
            self._mtime = self.path.stat().st_mtime

    def reload_if_changed(self) -> None:
        """Reload when the file changed on disk (another process added or revoked a credential)."""
        if self.path is not None and self.path.exists() and self.path.stat().st_mtime != self._mtime:
            self.reload()

    def save(self) -> None:
        """Write the registry atomically (hashes only, never tokens), readable by the owner only."""
        if self.path is None:
            return
        body = {
            self.key: {
                rid: {k: v for k, v in asdict(rec).items() if k != "id"}  # type: ignore[call-overload]
                for rid, rec in sorted(self._records.items())
            }
        }
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        tmp.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(orjson.dumps(body, option=orjson.OPT_INDENT_2))
        os.replace(tmp, self.path)
        self._mtime = self.path.stat().st_mtime

    # -- queries -----------------------------------------------------------------------------
    def get(self, rid: str) -> R | None:
        return self._records.get(rid)

    def __contains__(self, rid: object) -> bool:
        return rid in self._records

    def __len__(self) -> int:
        return len(self._records)

    def records(self) -> list[R]:
        return sorted(self._records.values(), key=lambda r: r.id)

    def authenticate(self, token: str) -> R:
        """The record owning ``token``; raises :class:`UnknownCredential` or :class:`RevokedCredential`."""
        rid, _, secret = token.partition(".")
        record = self._records.get(rid)
        if record is None or not secret:
            raise UnknownCredential("unknown token")
        fingerprint = hashlib.blake2b(token.encode(), digest_size=32, key=b"vigil-token-cache").digest()
        if self._verified.get(fingerprint) != rid:
            if not verify_secret(secret, record.token_hash):
                raise UnknownCredential("unknown token")
            with self._lock:
                self._verified[fingerprint] = rid
        if record.revoked:
            raise RevokedCredential(f"credential {rid!r} is revoked")
        return record

    def check_active(self, rid: str) -> R:
        """The record for ``rid`` when it exists and is not revoked (used where the id is the identity)."""
        record = self._records.get(rid)
        if record is None:
            raise UnknownCredential(f"{self.key[:-1]} is not registered")
        if record.revoked:
            raise RevokedCredential(f"credential {rid!r} is revoked")
        return record

    # -- changes -----------------------------------------------------------------------------
    def _issue(self, rid: str, **fields: Any) -> str:
        if not _ID_RE.match(rid):
            raise ValueError(f"id: {rid!r} must match {ID_PATTERN}")
        secret = secrets.token_urlsafe(32)
        record = self.record_type(
            id=rid,
            token_hash=hash_secret(secret),
            created=datetime.now(UTC).isoformat(timespec="seconds"),
            **fields,
        )
        with self._lock:
            self._records[rid] = record
            self._verified = {k: v for k, v in self._verified.items() if v != rid}
        self.save()
        return f"{rid}.{secret}"

    def revoke(self, rid: str) -> None:
        """Revoke ``rid`` (its token then answers 403); raises ``KeyError`` when unknown."""
        record = self._records[rid]
        with self._lock:
            self._records[rid] = replace(record, revoked=True)
            self._verified = {k: v for k, v in self._verified.items() if v != rid}
        self.save()


class DeviceRegistry(_Registry[Device]):
    """Devices and their patients (``Settings.gateway.device_registry``)."""

    record_type = Device
    key = "devices"

    def add(self, device_id: str, *, patient_id: str, source: str = "wearable", description: str = "") -> str:
        """Register (or re-key) a device for a patient; returns its new bearer token (shown once).

        ``source`` is the :class:`~ingest.reading.Source` its readings carry (wearable, home_device, ...).
        """
        if not _ID_RE.match(patient_id):
            raise ValueError(f"patient_id: must match {ID_PATTERN}")
        try:
            Source(source)
        except ValueError as exc:
            raise ValueError(f"source: unknown source {source!r}") from exc
        return self._issue(device_id, patient_id=patient_id, source=source, description=description)


class ClinicianRegistry(_Registry[Clinician]):
    """Clinicians allowed to acknowledge alerts (``Settings.gateway.clinician_registry``)."""

    record_type = Clinician
    key = "clinicians"

    def add(self, clinician_id: str, *, description: str = "") -> str:
        """Register (or re-key) a clinician; returns the new bearer token (shown once)."""
        return self._issue(clinician_id, description=description)
