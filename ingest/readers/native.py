"""Vigil's native reading records as JSON lines or CSV (the fields of ``Reading.to_dict()``).

Every row goes through :func:`~ingest.reading.make_reading`, so units convert and
plausibility flags apply. ``patient_id`` and ``device_id`` may be left out when the
reader's ``patient`` / ``device_id`` options supply them; ``received`` defaults to
the event time. When ``labels.jsonl`` / ``profiles.jsonl`` (optionally ``.gz``) sit
next to the readings file — as ``vigil simulate`` writes them — they are loaded too.

CSV columns: ``patient_id,device_id,metric,value,unit,time`` and optionally
``received,source,quality,reading_id``; ``quality`` flags are separated by ``;``.

>>> import tempfile
>>> d = Path(tempfile.mkdtemp())
>>> _ = (d / "r.csv").write_text("patient_id,device_id,metric,value,unit,time\\n"
...                              "p1,t1,temperature,100.4,[degF],2024-05-01T08:00:00Z\\n"
...                              "p1,t1,spo2,140,%,2024-05-01T08:00:00Z\\n")
>>> [getattr(i, "value", None) or i.location for i in CsvReader(d / "r.csv", ReaderOptions())]
[38.0, 'r.csv:3']
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel

from ingest.episodes import Episode, PatientProfile
from ingest.readers.base import Item, Reader, ReaderOptions, base_name, open_text, parse_cell_time
from ingest.reading import Reading, Rejection, make_reading

FIELDS = (
    "reading_id",
    "patient_id",
    "device_id",
    "metric",
    "value",
    "unit",
    "time",
    "received",
    "source",
    "quality",
)
REQUIRED = ("metric", "value", "time")
M = TypeVar("M", bound=BaseModel)


def native_reading(record: dict[str, Any], options: ReaderOptions) -> Reading:
    """One native record as a reading; raises :class:`Rejection` naming the field."""
    unknown = record.keys() - set(FIELDS)
    if unknown:
        raise Rejection(sorted(unknown)[0], f"unknown field (known: {', '.join(FIELDS)})")
    for name in REQUIRED:
        if record.get(name) in (None, ""):
            raise Rejection(name, "is required")
    patient = record.get("patient_id") or options.patient
    if not patient:
        raise Rejection("patient_id", "is required (or give a default patient)")
    quality = record.get("quality") or ()
    if isinstance(quality, str):
        quality = [q for q in quality.split(";") if q]
    time = parse_cell_time(record["time"], "time", options.assume_utc)
    received = record.get("received")
    return make_reading(
        patient_id=patient,
        device_id=record.get("device_id") or options.device_id,
        metric=record["metric"],
        value=record["value"],
        unit=record.get("unit") or None,
        time=time,
        received=parse_cell_time(received, "received", options.assume_utc) if received else time,
        source=record.get("source") or options.source,
        quality=quality,
        reading_id=record.get("reading_id") or None,
    )


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise Rejection("value", f"{text!r} is not a number") from None


class _NativeReader(Reader):
    """Loads the sibling labels/profiles files (if any) when iteration starts."""

    def _load_siblings(self) -> None:
        self._labels[:] = _sibling(self.path, "labels.jsonl", Episode)
        self._profiles[:] = _sibling(self.path, "profiles.jsonl", PatientProfile)


def _sibling(path: Path, name: str, model: type[M]) -> list[M]:
    for candidate in (path.parent / name, path.parent / f"{name}.gz"):
        if candidate.is_file() and base_name(candidate) != base_name(path):
            with open_text(candidate) as fh:
                return [model.model_validate_json(line) for line in fh if line.strip()]
    return []


class JsonlReader(_NativeReader):
    """Native readings, one JSON object per line (blank lines are skipped)."""

    def __iter__(self) -> Iterator[Item]:
        self._load_siblings()
        keep = self.keep
        with open_text(self.path) as fh:
            for line_no, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                patient = None
                try:
                    record = orjson.loads(line)
                    if not isinstance(record, dict):
                        raise Rejection("$", "each line must be a JSON object")
                    if keep is not None:
                        patient = record.get("patient_id") or self.options.patient
                        if not isinstance(patient, str):
                            patient = None
                        elif not keep(patient):
                            continue
                    yield native_reading(record, self.options)
                except orjson.JSONDecodeError as exc:
                    yield self.rejected(line_no, Rejection("$", f"not valid JSON ({exc})"), line)
                except Rejection as rej:
                    yield self.rejected(line_no, rej, line, patient_id=patient)


class CsvReader(_NativeReader):
    """Native readings as CSV with a header row."""

    def __iter__(self) -> Iterator[Item]:
        self._load_siblings()
        with open_text(self.path) as fh:
            rows = csv.reader(fh)
            header = next(rows, None)
            if header is None:
                return
            header = [h.strip() for h in header]
            bad = [h for h in header if h not in FIELDS] or [h for h in REQUIRED if h not in header]
            if bad:
                raise ValueError(
                    f"{self.where(1)}: column {bad[0]!r} is unknown or missing (columns: {FIELDS})"
                )
            for row in rows:
                line_no = rows.line_num
                if not row:
                    continue
                try:
                    if len(row) != len(header):
                        raise Rejection("$", f"expected {len(header)} cells, got {len(row)}")
                    record: dict[str, Any] = {k: v for k, v in zip(header, row, strict=True) if v != ""}
                    if "value" in record:
                        record["value"] = _number(record["value"])
                    yield native_reading(record, self.options)
                except Rejection as rej:
                    yield self.rejected(line_no, rej, ",".join(row))
