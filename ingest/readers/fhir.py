"""FHIR R4 Observations and Bundles from files, through the ingest adapter :func:`ingest.adapters.from_fhir`.

``path`` may be one ``.json`` file (an Observation or a Bundle), an NDJSON bulk
export (``.ndjson``, one resource per line), or a directory of such files (read in
name order, not recursing). Locations are ``file.ndjson:<line>`` for NDJSON and
``file.json`` for a whole-file resource; the reason starts with the FHIR path
(e.g. ``entry[3].resource.valueQuantity.unit: ...``). A single ``.json`` file is
parsed whole; use NDJSON for large exports (streamed line by line).

>>> import json, tempfile
>>> from ingest.readers.base import ReaderOptions
>>> obs = {"resourceType": "Observation", "status": "final",
...        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
...        "subject": {"reference": "Patient/p-001"}, "effectiveDateTime": "2024-05-01T09:00:00+01:00",
...        "valueQuantity": {"value": 72, "unit": "/min"}}
>>> d = Path(tempfile.mkdtemp())
>>> lines = [json.dumps(obs), json.dumps(dict(obs, status="cancelled"))]
>>> _ = (d / "x.ndjson").write_text("\\n".join(lines) + "\\n")
>>> [getattr(i, "patient_id", None) or i.location for i in FhirReader(d / "x.ndjson", ReaderOptions())]
['p-001', 'x.ndjson:2']
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from ingest.adapters import from_fhir
from ingest.readers.base import Item, Reader, RejectedRow, base_name, open_text

SUFFIXES = (".json", ".ndjson")


class FhirReader(Reader):
    """FHIR R4 resources from a file or directory, converted by the ingest FHIR adapter."""

    def __iter__(self) -> Iterator[Item]:
        files = (
            sorted(p for p in self.path.iterdir() if base_name(p).endswith(SUFFIXES))
            if self.path.is_dir()
            else [self.path]
        )
        for path in files:
            if base_name(path).endswith(".ndjson"):
                yield from self._ndjson(path)
            else:
                with open_text(path) as fh:
                    text = fh.read()
                yield from self._resource(text, path.name, path)

    def _ndjson(self, path: Path) -> Iterator[Item]:
        with open_text(path) as fh:
            for line_no, line in enumerate(fh, 1):
                if line.strip():
                    yield from self._resource(line, self.where(line_no, path), path)

    def _resource(self, text: str, location: str, path: Path) -> Iterator[Item]:
        try:
            obj: Any = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            yield RejectedRow(location, f"$: not valid JSON ({exc})", text.rstrip("\r\n"))
            return
        opts = self.options
        result = from_fhir(obj, device_id=opts.device_id, patient_id=opts.patient, source=opts.source)
        for reading in result.accepted:
            yield reading.model_copy(update={"received": reading.time})
        for rej in result.rejected:
            yield RejectedRow(
                location, f"{rej.location}: {rej.reason}", rej.raw_bytes().decode(errors="replace")
            )
