"""A generic ``timestamp,value`` CSV of one metric for one patient (``--metric``, ``--patient``).

Timestamps are ISO 8601 with an offset, or epoch seconds/milliseconds; a naive
timestamp is rejected unless ``assume_utc`` is set. A first row that does not
parse as data is treated as a header when it names the columns.

>>> import tempfile
>>> from ingest.metrics import Metric
>>> d = Path(tempfile.mkdtemp())
>>> _ = (d / "hr.csv").write_text("timestamp,value\\n2024-05-01T08:00:00Z,71\\n2024-05-01 08:05:00,72\\n")
>>> opts = ReaderOptions(metric=Metric.HEART_RATE, patient="p1")
>>> [getattr(i, "value", None) or i.reason for i in SeriesReader(d / "hr.csv", opts)]
[71.0, 'time: timezone required (e.g. 2024-05-01T08:00:00Z or +01:00)']
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from ingest.readers.base import Item, Reader, ReaderOptions, open_text, parse_cell_time
from ingest.reading import Rejection, make_reading

HEADER_NAMES = frozenset({"timestamp", "time", "datetime", "date", "value"})


class SeriesReader(Reader):
    """One metric's ``timestamp,value`` rows for one patient."""

    def __init__(self, path: Path, options: ReaderOptions) -> None:
        if options.metric is None:
            raise ValueError("metric: the series format needs a metric (--metric NAME)")
        if not options.patient:
            raise ValueError("patient: the series format needs a patient id (--patient ID)")
        super().__init__(path, options)

    def __iter__(self) -> Iterator[Item]:
        opts = self.options
        assert opts.metric is not None and opts.patient is not None
        with open_text(self.path) as fh:
            rows = csv.reader(fh)
            for row in rows:
                line_no = rows.line_num
                if not row or not "".join(row).strip():
                    continue
                if line_no == 1 and {c.strip().lower() for c in row} <= HEADER_NAMES:
                    continue
                try:
                    if len(row) != 2:
                        raise Rejection("$", f"expected 2 cells (timestamp,value), got {len(row)}")
                    when = parse_cell_time(row[0].strip(), "time", opts.assume_utc)
                    try:
                        value = float(row[1])
                    except ValueError:
                        raise Rejection("value", f"{row[1]!r} is not a number") from None
                    yield make_reading(
                        patient_id=opts.patient,
                        device_id=opts.device_id,
                        metric=opts.metric,
                        value=value,
                        time=when,
                        received=when,
                        source=opts.source,
                    )
                except Rejection as rej:
                    yield self.rejected(line_no, rej, ",".join(row))
