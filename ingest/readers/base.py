"""The one reader interface for recorded data: iterate readings and located rejections, then labels.

A :class:`Reader` streams a file (never loading it whole; ``.gz`` is decompressed
transparently) and yields, in file order, either a :class:`~ingest.reading.Reading`
or a :class:`RejectedRow` saying where (``file.csv:17``) and why. Its ``labels``
(ground-truth :class:`~ingest.episodes.Episode` records) and ``profiles`` fill in
as it reads and are complete once iteration ends.

Recorded data has no arrival time, so a reading's ``received`` is its event time
unless the file records one.
"""

from __future__ import annotations

import contextlib
import gzip
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

from ingest.episodes import Episode, PatientProfile
from ingest.metrics import Metric
from ingest.reading import Reading, Rejection, Source, parse_time


@dataclass(frozen=True, slots=True)
class RejectedRow:
    """An input row that could not become a reading: where (``file:line``), why, and the raw text.

    ``patient_id`` is the row's patient when the reader knew it (a sharded replay records the
    rejection in that patient's shard); None otherwise.
    """

    location: str
    reason: str
    raw: str
    patient_id: str | None = None


Item = Reading | RejectedRow


@dataclass(frozen=True, slots=True)
class ReaderOptions:
    """Defaults for what a file does not say itself."""

    metric: Metric | None = None
    patient: str | None = None
    device_id: str = "replay"
    source: Source = Source.REPLAY
    assume_utc: bool = False


class Reader(ABC):
    """Iterable of :data:`Item`; ``labels`` and ``profiles`` are complete after iteration."""

    def __init__(self, path: Path, options: ReaderOptions) -> None:
        self.path = path
        self.options = options
        self._labels: list[Episode] = []
        self._profiles: list[PatientProfile] = []
        self.keep: Callable[[str], bool] | None = None
        """If set, a reader may skip (not parse, not yield) the readings and rejections of patients
        for whom it is false (a sharded replay's other shards); labels and profiles stay complete."""

    @abstractmethod
    def __iter__(self) -> Iterator[Item]: ...

    @property
    def labels(self) -> list[Episode]:
        return self._labels

    @property
    def profiles(self) -> list[PatientProfile]:
        return self._profiles

    def where(self, line: int, path: Path | None = None) -> str:
        """A location ``<file name>:<line>``."""
        return f"{(path or self.path).name}:{line}"

    def rejected(
        self,
        line: int,
        rejection: Rejection | ValueError,
        raw: str,
        path: Path | None = None,
        patient_id: str | None = None,
    ) -> RejectedRow:
        return RejectedRow(self.where(line, path), str(rejection), raw.rstrip("\r\n"), patient_id)


def open_text(path: Path) -> IO[str]:
    """Open a text file for reading, gunzipping it when the name ends in ``.gz``."""
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return path.open("r", encoding="utf-8", newline="")


def parse_cell_time(value: object, field: str, assume_utc: bool) -> datetime:
    """An event time from a file cell: ISO 8601, or epoch seconds/milliseconds (also as digits in text).

    >>> parse_cell_time("1714550400", "time", False).isoformat()
    '2024-05-01T08:00:00+00:00'
    """
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = float(value)
    return parse_time(value, field=field, assume_utc=assume_utc)  # type: ignore[arg-type]


def base_name(path: Path) -> str:
    """The file name without a ``.gz`` suffix.

    >>> base_name(Path("a/readings.jsonl.gz"))
    'readings.jsonl'
    """
    return path.name[:-3] if path.name.endswith(".gz") else path.name
