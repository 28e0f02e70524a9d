"""``vigil bench table``: what the patient-state table's RocksDB databases hold in memory under writes.

The worker's table has one RocksDB database per partition. Each checkpoint writes the states of the
patients whose readings came since the last one, so a live worker writes its patients' states over
and over. This writes ``rounds`` x ``patients`` steady-state patient states (after four simulated
weeks: :func:`streams.bench.steady_states`) across ``partitions`` databases, in a fresh process per
configuration, and reports how much the process grew (RSS): with Faust's RocksDB defaults and with
the worker's (:func:`streams.app.table_options`). Nothing else runs; no services are needed.
"""

from __future__ import annotations

import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from streams.app import table_options
from vigil.settings import Settings


def write_states(
    options: dict[str, Any], values: list[bytes], partitions: int, patients: int, rounds: int
) -> dict[str, float]:
    """In this process: open ``partitions`` databases with ``options`` (Faust's ``RocksDBOptions``) and
    write ``rounds`` times a value for each of ``patients`` keys; RSS growth and time taken."""
    from faust.stores.rocksdb import RocksDBOptions

    from streams.bench import rss_mb

    config = RocksDBOptions(use_rocksdict=True, **options)
    with tempfile.TemporaryDirectory() as tmp:
        dbs = [config.open(Path(tmp) / f"p{i}") for i in range(partitions)]
        keys = [f"p-{i:07d}".encode() for i in range(patients)]
        before, start, written = rss_mb(os.getpid()), time.perf_counter(), 0
        for _ in range(rounds):
            for i, key in enumerate(keys):
                value = values[i % len(values)]
                dbs[i % partitions][key] = value
                written += len(value)
        seconds = time.perf_counter() - start
        grown = rss_mb(os.getpid()) - before
        for db in dbs:
            db.close()
    return {
        "rss_growth_mb": round(grown, 1),
        "written_mb": round(written / 2**20, 1),
        "seconds": round(seconds, 2),
    }


def run_table_bench(settings: Settings, *, partitions: int, patients: int, rounds: int) -> dict[str, Any]:
    """Both configurations, each in a fresh process (see module docstring)."""
    from streams.bench import steady_states

    values = [st.to_bytes() for st in steady_states(settings, patients=5)]
    configurations = {"faust_defaults": {}, "worker": table_options(settings.worker)}
    result: dict[str, Any] = {"partitions": partitions, "patients": patients, "rounds": rounds}
    for name, options in configurations.items():
        with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
            measured = pool.submit(write_states, options, values, partitions, patients, rounds).result()
        result[name] = {"options": options, **measured}
    return result
