"""The PhysioNet/CinC Challenge 2019 sepsis data (hourly ICU vital signs with ``SepsisLabel``).

Each row is one hour of one patient: its readings are timed at
``2000-01-01T00:00:00Z + ICULOS hours`` (the data has no wall-clock time). Columns
map HR -> heart_rate, O2Sat -> spo2, Temp -> body_temperature, SBP -> systolic_bp,
DBP -> diastolic_bp, Resp -> respiratory_rate; MAP is not read (Vigil has no mean
arterial pressure metric). Empty cells are missing measurements, not readings.
Patient ids become ``pn-<record id>``; profiles carry the age.

Labels: ``SepsisLabel`` is 1 from **6 hours before** the clinical onset of sepsis,
so each patient with any 1 gets ``Episode(kind="sepsis", start=<first labelled
hour>, end=<last row>)`` and the clinical onset is ``start + 6 h``.

>>> import tempfile
>>> from pathlib import Path
>>> from ingest.readers.base import ReaderOptions
>>> d = Path(tempfile.mkdtemp())
>>> _ = (d / "pn.csv").write_text(
...     "patient,HR,O2Sat,Temp,SBP,MAP,DBP,Resp,Age,Gender,ICULOS,SepsisLabel\\n"
...     "p1,80,97,,120,85,70,18,70,1,1,0\\np1,95,,38.5,,,,,70,1,2,1\\n")
>>> reader = PhysionetReader(d / "pn.csv", ReaderOptions())
>>> [(r.metric.value, r.time.hour) for r in reader][:2], len(reader.labels)
([('heart_rate', 1), ('spo2', 1)], 1)
>>> reader.labels[0].start.isoformat(), reader.profiles[0].age
('2000-01-01T02:00:00+00:00', 70)
"""

from __future__ import annotations

import contextlib
import csv
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ingest.episodes import Episode, PatientProfile
from ingest.metrics import Metric
from ingest.readers.base import Item, Reader, open_text
from ingest.reading import Rejection, make_reading

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
"""Time zero: ICULOS hour ``h`` is ``EPOCH + h hours``."""
ONSET_AFTER_LABEL = timedelta(hours=6)
"""Clinical onset of sepsis = first ``SepsisLabel`` 1 + 6 h."""
PREFIX = "pn-"
COLUMNS: dict[str, Metric] = {
    "HR": Metric.HEART_RATE,
    "O2Sat": Metric.SPO2,
    "Temp": Metric.BODY_TEMPERATURE,
    "SBP": Metric.SYSTOLIC_BP,
    "DBP": Metric.DIASTOLIC_BP,
    "Resp": Metric.RESPIRATORY_RATE,
}
REQUIRED = ("patient", "ICULOS", "SepsisLabel", *COLUMNS)
SEPSIS_METRICS = tuple(COLUMNS.values())


@dataclass(slots=True)
class _Stay:
    """What is known of the current patient while reading their rows."""

    patient_id: str
    age: int | None = None
    first_label: datetime | None = None
    last_time: datetime | None = None


class PhysionetReader(Reader):
    """Readings, sepsis labels and ages from a PhysioNet 2019 CSV (rows grouped by patient)."""

    def __iter__(self) -> Iterator[Item]:
        self._labels.clear()
        self._profiles.clear()
        stay: _Stay | None = None
        keep, kept = self.keep, False
        with open_text(self.path) as fh:
            rows = csv.DictReader(fh)
            missing = [c for c in REQUIRED if c not in (rows.fieldnames or ())]
            if missing:
                raise ValueError(
                    f"{self.where(1)}: missing column {missing[0]!r} (needs {', '.join(REQUIRED)})"
                )
            for row in rows:
                line_no = rows.line_num
                try:
                    patient_id, when = self._key(row)
                except Rejection as rej:
                    yield self.rejected(line_no, rej, ",".join(str(v) for v in row.values()))
                    continue
                if stay is None or stay.patient_id != patient_id:
                    self._finish(stay)
                    stay = _Stay(patient_id)
                    kept = keep is None or keep(patient_id)
                self._note(stay, row, when)
                if not kept:
                    continue
                for column, metric in COLUMNS.items():
                    cell = (row[column] or "").strip()
                    if not cell:
                        continue
                    try:
                        yield make_reading(
                            patient_id=patient_id,
                            device_id=self.options.device_id,
                            metric=metric,
                            value=_float(cell, column),
                            time=when,
                            received=when,
                            source=self.options.source,
                        )
                    except Rejection as rej:
                        raw = ",".join(str(v) for v in row.values())  # only when needed
                        yield self.rejected(
                            line_no, Rejection(column, rej.reason), raw, patient_id=patient_id
                        )
        self._finish(stay)

    @staticmethod
    def _key(row: dict[str, str]) -> tuple[str, datetime]:
        record = (row["patient"] or "").strip()
        if not record:
            raise Rejection("patient", "is required")
        hours = _float(row["ICULOS"], "ICULOS")
        if not 0 <= hours <= 24 * 365:
            raise Rejection("ICULOS", f"{hours:g} hours is out of range")
        return f"{PREFIX}{record}", EPOCH + timedelta(hours=hours)

    @staticmethod
    def _note(stay: _Stay, row: dict[str, str], when: datetime) -> None:
        stay.last_time = when
        if stay.age is None and (row.get("Age") or "").strip():
            # an unreadable age leaves the profile without one; the vital signs are still read
            with contextlib.suppress(Rejection):
                stay.age = min(max(round(_float(row["Age"], "Age")), 0), 130)
        if stay.first_label is None and (row["SepsisLabel"] or "").strip() in ("1", "1.0"):
            stay.first_label = when

    def _finish(self, stay: _Stay | None) -> None:
        if stay is None:
            return
        self._profiles.append(PatientProfile(patient_id=stay.patient_id, age=stay.age))
        if stay.first_label is not None:
            self._labels.append(
                Episode(
                    patient_id=stay.patient_id,
                    kind="sepsis",
                    start=stay.first_label,
                    end=stay.last_time,
                    metrics=SEPSIS_METRICS,
                )
            )


def _float(cell: str | None, column: str) -> float:
    try:
        return float(cell or "")
    except ValueError:
        raise Rejection(column, f"{cell!r} is not a number") from None
