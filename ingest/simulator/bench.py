"""Throughput of the simulator (to a JSONL file) and of every recorded-data reader, as plain numbers.

Wall-clock rates depend on what else runs on the machine, so CPU-time rates
(``*_per_cpu_s``, this process only) and the load average are reported too.

Run with ``vigil bench simulate``; fixtures for the readers are cut from the
simulated file (converted to CSV, FHIR NDJSON and a ``timestamp,value`` series),
plus the first rows of the shared PhysioNet 2019 file when it is present.
"""

from __future__ import annotations

import csv
import itertools
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from ingest.metrics import CATALOGUE, Metric
from ingest.readers import RejectedRow, open_reader
from ingest.readers.base import open_text
from ingest.readers.native import FIELDS
from ingest.simulator.cohort import simulate_cohort
from ingest.simulator.config import CohortConfig
from ingest.simulator.sinks import open_output, write_files

FHIR_METRICS = frozenset(
    m.value
    for m in (
        Metric.HEART_RATE,
        Metric.SPO2,
        Metric.BODY_TEMPERATURE,
        Metric.RESPIRATORY_RATE,
        Metric.SYSTOLIC_BP,
        Metric.DIASTOLIC_BP,
    )
)


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (worker processes), user + system."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def observation_for(record: dict[str, Any]) -> dict[str, Any]:
    """A FHIR R4 Observation carrying one native record (LOINC code, UCUM quantity).

    >>> obs = observation_for({"patient_id": "p1", "metric": "heart_rate", "value": 72.0, "unit": "/min",
    ...                        "time": "2025-01-06T08:00:00Z"})
    >>> obs["code"]["coding"][0]["code"], obs["subject"]["reference"]
    ('8867-4', 'Patient/p1')
    """
    spec = CATALOGUE[Metric(record["metric"])]
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": spec.loinc[0]}]},
        "subject": {"reference": f"Patient/{record['patient_id']}"},
        "effectiveDateTime": record["time"],
        "valueQuantity": {
            "value": record["value"],
            "unit": record["unit"],
            "system": "http://unitsofmeasure.org",
            "code": record["unit"],
        },
    }


def _records(path: Path, n: int) -> Iterator[dict[str, Any]]:
    with open_text(path) as fh:
        for line in itertools.islice(fh, n):
            yield orjson.loads(line)


def write_fixtures(readings: Path, out: Path, n: int) -> dict[str, tuple[Path, dict[str, Any]]]:
    """Reader fixtures of about ``n`` readings each, cut from a simulated readings file."""
    fixtures: dict[str, tuple[Path, dict[str, Any]]] = {}
    jsonl = out / "bench.jsonl"
    with open_output(jsonl) as fh:
        fh.writelines(orjson.dumps(r) + b"\n" for r in _records(readings, n))
    fixtures["jsonl"] = (jsonl, {})
    with (out / "bench.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(FIELDS)
        for r in _records(readings, n):
            writer.writerow([";".join(r[k]) if k == "quality" else r[k] for k in FIELDS])
    fixtures["csv"] = (out / "bench.csv", {})
    with open_output(out / "bench.ndjson") as fh:
        fh.writelines(
            orjson.dumps(observation_for(r)) + b"\n"
            for r in _records(readings, n)
            if r["metric"] in FHIR_METRICS and not r["quality"]
        )
    fixtures["fhir"] = (out / "bench.ndjson", {})
    with (out / "series.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["timestamp", "value"])
        writer.writerows([1_700_000_000 + 60 * i, 60 + i % 40] for i in range(n))
    fixtures["series"] = (out / "series.csv", {"metric": "heart_rate", "patient": "bench-1"})
    return fixtures


def time_reader(path: Path, fmt: str, **options: Any) -> dict[str, float]:
    """Read a whole file; readings, rejections, seconds and readings/s."""
    start, cpu = time.perf_counter(), time.process_time()
    readings = rejected = 0
    for item in open_reader(path, fmt, **options):
        if isinstance(item, RejectedRow):
            rejected += 1
        else:
            readings += 1
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {
        "readings": readings,
        "rejected": rejected,
        "seconds": round(elapsed, 3),
        "readings_per_s": round(readings / elapsed),
        "readings_per_cpu_s": round(readings / cpu),
    }


def physionet_head(source: Path, out: Path, lines: int) -> Path:
    """The first ``lines`` lines (header included) of the PhysioNet file, as a plain CSV."""
    with open_text(source) as fh, (out / "physionet_head.csv").open("w", newline="") as dst:
        dst.writelines(itertools.islice(fh, lines))
    return out / "physionet_head.csv"


def run_benchmark(
    *, patients: int, days: float, seed: int, reader_rows: int, physionet: Path, workers: int = 1
) -> dict[str, Any]:
    """Simulator readings/s to a JSONL file (generation + writing) and each reader's readings/s."""
    with tempfile.TemporaryDirectory(prefix="vigil-bench-") as tmp:
        out = Path(tmp)
        config = CohortConfig(patients=patients, days=days, seed=seed)
        t0, c0 = time.perf_counter(), cpu_seconds()
        cohort = simulate_cohort(config, workers=workers)
        t1 = time.perf_counter()
        files = write_files(out, cohort.json_lines(workers=workers), cohort.episodes, cohort.profiles)
        t2, c2 = time.perf_counter(), cpu_seconds()
        size = files.readings_path.stat().st_size
        result: dict[str, Any] = {
            "simulator": {
                "patients": patients,
                "workers": workers,
                "days": days,
                "readings": files.readings,
                "episodes": files.labels,
                "generate_s": round(t1 - t0, 3),
                "write_s": round(t2 - t1, 3),
                "readings_per_s_to_file": round(files.readings / (t2 - t0)),
                "write_only_readings_per_s": round(files.readings / (t2 - t1)),
                "readings_per_cpu_s_to_file": round(files.readings / (c2 - c0)),
                "load_average_1min": round(os.getloadavg()[0], 2),
                "bytes_per_reading": round(size / max(files.readings, 1), 1),
            },
            "readers": {},
        }
        del cohort
        for fmt, (path, options) in write_fixtures(files.readings_path, out, reader_rows).items():
            result["readers"][fmt] = time_reader(path, fmt, **options)
        if physionet.is_file():
            head = physionet_head(physionet, out, reader_rows // 5)
            result["readers"]["physionet2019"] = time_reader(head, "physionet2019")
        else:
            result["readers"]["physionet2019"] = {"skipped": f"{physionet} not found"}
    return result
