"""Recorded-data readers: native JSONL/CSV, FHIR R4, generic series CSV and PhysioNet 2019.

>>> from pathlib import Path
>>> sorted(FORMATS)
['csv', 'fhir', 'jsonl', 'physionet2019', 'series']
"""

from __future__ import annotations

from pathlib import Path

from ingest.metrics import Metric
from ingest.readers.base import Item, Reader, ReaderOptions, RejectedRow
from ingest.readers.fhir import FhirReader
from ingest.readers.native import CsvReader, JsonlReader
from ingest.readers.physionet import PhysionetReader
from ingest.readers.series import SeriesReader
from ingest.reading import Source, resolve_metric

FORMATS: dict[str, type[Reader]] = {
    "jsonl": JsonlReader,
    "csv": CsvReader,
    "fhir": FhirReader,
    "series": SeriesReader,
    "physionet2019": PhysionetReader,
}
"""Reader class per format name (the ``--format`` of ``vigil replay`` and ``vigil simulate --from``)."""


def open_reader(
    path: str | Path,
    fmt: str,
    *,
    metric: str | Metric | None = None,
    patient: str | None = None,
    device_id: str = "replay",
    source: Source | str = Source.REPLAY,
    assume_utc: bool = False,
) -> Reader:
    """A reader for ``path`` in format ``fmt``; raises ``ValueError`` for an unknown format or bad option."""
    if fmt not in FORMATS:
        raise ValueError(f"format: unknown format {fmt!r} (known: {', '.join(FORMATS)})")
    path = Path(path)
    if not path.exists():
        raise ValueError(f"path: {path} does not exist")
    options = ReaderOptions(
        metric=resolve_metric(metric) if metric is not None else None,
        patient=patient,
        device_id=device_id,
        source=Source(source),
        assume_utc=assume_utc,
    )
    return FORMATS[fmt](path, options)


__all__ = ["FORMATS", "Item", "Reader", "ReaderOptions", "RejectedRow", "open_reader"]
