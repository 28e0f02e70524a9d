"""The file records are exactly ``Reading.to_dict()`` and what ``make_reading`` would have built."""

from __future__ import annotations

import itertools
from collections import defaultdict

import numpy as np

from ingest.metrics import CATALOGUE, Metric
from ingest.reading import Quality, Reading, derive_reading_id, make_reading
from ingest.simulator.cohort import Cohort


def test_sampled_records_validate_and_round_trip(default_cohort: Cohort) -> None:
    sample = list(itertools.islice(default_cohort.records(), 0, None, 17))
    assert len(sample) > 1500
    for rec in sample:
        reading = Reading.model_validate(rec)
        assert reading.to_dict() == rec
        assert rec["reading_id"] == derive_reading_id(
            rec["patient_id"], rec["metric"], reading.time, reading.value
        )
        rebuilt = make_reading(
            **{k: rec[k] for k in ("patient_id", "device_id", "metric", "value", "unit", "time")},
            received=reading.received,
            source=reading.source,
        )
        assert rebuilt.quality == reading.quality
        assert rebuilt.reading_id == reading.reading_id


def test_values_are_canonical_rounded_and_within_limits(default_cohort: Cohort) -> None:
    decimals = {
        Metric.HEART_RATE: 0,
        Metric.SPO2: 0,
        Metric.SYSTOLIC_BP: 0,
        Metric.DIASTOLIC_BP: 0,
        Metric.RESPIRATORY_RATE: 0,
        Metric.BODY_TEMPERATURE: 1,
        Metric.STEPS: 0,
        Metric.HRV_RMSSD: 0,
        Metric.CONSCIOUSNESS: 0,
        Metric.SUPPLEMENTAL_OXYGEN: 0,
    }
    by_metric: dict[str, list[float]] = defaultdict(list)
    for rec in default_cohort.records():
        by_metric[rec["metric"]].append(rec["value"])
        assert rec["unit"] == CATALOGUE[Metric(rec["metric"])].unit
    assert set(by_metric) >= {m.value for m in decimals}
    for name, values in by_metric.items():
        spec, arr = CATALOGUE[Metric(name)], np.array(values)
        assert spec.limits[0] <= arr.min() and arr.max() <= spec.limits[1], name
        places = decimals.get(spec.metric)
        if places is not None:
            assert np.all(arr == arr.round(places)), name


def test_arrival_order_late_out_of_order_and_duplicates(default_cohort: Cohort) -> None:
    recs = list(default_cohort.records())
    received = [r["received"] for r in recs]
    assert received == sorted(received)
    delays = np.array(
        [
            (Reading.model_validate(r).received - Reading.model_validate(r).time).total_seconds()
            for r in recs[::20]
        ]
    )
    assert np.median(delays) < 60 and delays.max() > 2 * 3600  # mostly prompt, some held by a gap
    times = [r["time"] for r in recs]
    assert times != sorted(times)  # out of order by event time
    seen: dict[str, dict] = {}
    duplicates = 0
    for r in recs:
        if r["reading_id"] in seen:
            duplicates += 1
            first = seen[r["reading_id"]]
            assert {k: v for k, v in r.items() if k != "received"} == {
                k: v for k, v in first.items() if k != "received"
            }
        seen[r["reading_id"]] = r
    assert 0.001 < duplicates / len(recs) < 0.02


def test_probe_off_zeros_are_flagged_implausible(default_cohort: Cohort) -> None:
    zeros = [r for r in default_cohort.records() if r["metric"] == "spo2" and r["value"] == 0]
    assert zeros and all(r["quality"] == [Quality.IMPLAUSIBLE.value] for r in zeros)
    assert sum(1 for r in default_cohort.records() if r["quality"]) < 0.01 * len(default_cohort)


def test_readings_api_matches_records(clean_cohort: Cohort) -> None:
    readings = list(itertools.islice(clean_cohort.readings(), 500))
    assert [r.to_dict() for r in readings] == list(itertools.islice(clean_cohort.records(), 500))
