"""Readings as columns (numpy arrays): cheap to generate, sort and serialise in bulk.

Records come out exactly ``Reading.to_dict()``-shaped, with ``reading_id`` from
:func:`~ingest.reading.derive_reading_id`, without building a ``Reading`` per row.

>>> import numpy as np
>>> from ingest.reading import Reading, Source
>>> one = lambda x: np.array([x])
>>> cols = ReadingColumns(patient=one(0), device=one(0), metric=one(METRIC_INDEX["spo2"]),
...                       time=one(1_736_150_400), received=one(1_736_150_405), value=one(0.0))
>>> rec = next(cols.records(["p1"], Source.SIMULATOR))
>>> rec["device_id"], rec["time"], rec["quality"]
('p1-watch', '2025-01-06T08:00:00Z', ['implausible'])
>>> Reading.model_validate(rec).to_dict() == rec
True
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import orjson

from ingest.metrics import CATALOGUE, Metric
from ingest.reading import Quality, Source, reading_id_for_iso
from ingest.simulator.devices import DEVICES
from ingest.simulator.parallel import ordered_map

METRICS: tuple[Metric, ...] = tuple(Metric)
METRIC_INDEX: dict[str, int] = {m.value: i for i, m in enumerate(METRICS)}
_UNITS = [CATALOGUE[m].unit for m in METRICS]
_PLAUSIBLE_LO = np.array([CATALOGUE[m].plausible[0] for m in METRICS])
_PLAUSIBLE_HI = np.array([CATALOGUE[m].plausible[1] for m in METRICS])
_IMPLAUSIBLE = Quality.IMPLAUSIBLE.value
CHUNK = 65_536
LINES_PER_CHUNK = 256


def _iso_z(epoch_seconds: np.ndarray) -> list[str]:
    """``YYYY-MM-DDTHH:MM:SSZ`` for whole epoch seconds, vectorised."""
    text = np.datetime_as_string(epoch_seconds.astype("datetime64[s]"), unit="s", timezone="UTC")
    return text.tolist()  # type: ignore[no-any-return]


def _serialise(part: tuple[ReadingColumns, Sequence[str], Source]) -> bytes:
    """One chunk of rows as JSON lines (a worker process's task)."""
    columns, patient_ids, source = part
    return b"".join(columns.json_lines(patient_ids, source))


@dataclass(frozen=True, slots=True)
class ReadingColumns:
    """Parallel arrays, one row per reading: patient index, device index, metric index, times and value."""

    patient: np.ndarray
    device: np.ndarray
    metric: np.ndarray
    time: np.ndarray
    received: np.ndarray
    value: np.ndarray

    def __len__(self) -> int:
        return len(self.time)

    @classmethod
    def concat(cls, parts: Sequence[ReadingColumns]) -> ReadingColumns:
        if not parts:
            return cls(
                *(np.zeros(0, dtype=d) for d in (np.int32, np.int8, np.int8, np.int64, np.int64, float))
            )
        return cls(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)))

    def take(self, index: np.ndarray | slice) -> ReadingColumns:
        return ReadingColumns(*(getattr(self, f.name)[index] for f in fields(self)))

    def arrival_order(self) -> ReadingColumns:
        """Sorted by received time (ties: patient, event time, metric) — how devices deliver."""
        return self.take(np.lexsort((self.metric, self.time, self.patient, self.received)))

    def implausible(self) -> np.ndarray:
        """True where the value is outside the metric's plausible range (flagged like ``make_reading``)."""
        return (self.value < _PLAUSIBLE_LO[self.metric]) | (self.value > _PLAUSIBLE_HI[self.metric])

    def records(self, patient_ids: Sequence[str], source: Source) -> Iterator[dict[str, Any]]:
        """``Reading.to_dict()``-shaped records, in row order."""
        device_ids = [[f"{p}-{d.value}" for d in DEVICES] for p in patient_ids]
        src = source.value
        for lo in range(0, len(self), CHUNK):
            part = self.take(slice(lo, lo + CHUNK))
            for p, d, m, t, r, v, bad in zip(
                part.patient.tolist(),
                part.device.tolist(),
                part.metric.tolist(),
                _iso_z(part.time),
                _iso_z(part.received),
                part.value.tolist(),
                part.implausible().tolist(),
                strict=True,
            ):
                pid, metric = patient_ids[p], METRICS[m].value
                yield {
                    "reading_id": reading_id_for_iso(pid, metric, t[:-1] + "+00:00", v),
                    "patient_id": pid,
                    "device_id": device_ids[p][d],
                    "metric": metric,
                    "value": v,
                    "unit": _UNITS[m],
                    "time": t,
                    "received": r,
                    "source": src,
                    "quality": [_IMPLAUSIBLE] if bad else [],
                }

    def json_lines(self, patient_ids: Sequence[str], source: Source, *, workers: int = 1) -> Iterator[bytes]:
        """Newline-terminated JSON records (orjson), in row order, serialised on ``workers`` processes.

        Lines are built 256 at a time: holding tens of thousands of freshly serialised
        lines at once costs more in page faults than serialising them.
        """
        if workers > 1:
            parts = (
                (self.take(slice(lo, lo + CHUNK)), patient_ids, source) for lo in range(0, len(self), CHUNK)
            )
            yield from ordered_map(_serialise, parts, workers=workers)
            return
        dumps, newline = orjson.dumps, orjson.OPT_APPEND_NEWLINE
        records = self.records(patient_ids, source)
        while True:
            gc_was_enabled = gc.isenabled()
            gc.disable()  # many short-lived dicts: generational GC passes would dominate the cost
            try:
                chunk = [
                    dumps(r, option=newline) for _, r in zip(range(LINES_PER_CHUNK), records, strict=False)
                ]
            finally:
                if gc_was_enabled:
                    gc.enable()
            if not chunk:
                return
            yield b"".join(chunk)
