"""The simulator delivers what it promises: cadence, missingness, NEWS2 coverage and episode effects."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from ingest.episodes import Episode
from ingest.metrics import Metric
from ingest.simulator import Artefacts, Cadence, CohortConfig, simulate_cohort
from ingest.simulator.artefacts import expected_watch_missing
from ingest.simulator.cohort import Cohort
from ingest.simulator.columns import METRIC_INDEX
from ingest.simulator.devices import DEVICES, Device

NEWS2 = (
    Metric.RESPIRATORY_RATE,
    Metric.SPO2,
    Metric.BODY_TEMPERATURE,
    Metric.SYSTOLIC_BP,
    Metric.HEART_RATE,
    Metric.CONSCIOUSNESS,
    Metric.SUPPLEMENTAL_OXYGEN,
)


def _rows(cohort: Cohort, metric: Metric, device: Device | None = None) -> np.ndarray:
    c = cohort.columns
    mask = c.metric == METRIC_INDEX[metric.value]
    if device is not None:
        mask &= c.device == DEVICES.index(device)
    return mask


def test_clean_cohort_cadence_is_exact(clean_cohort: Cohort) -> None:
    cfg, c = clean_cohort.config, clean_cohort.columns
    per_patient = np.bincount(
        c.patient[_rows(clean_cohort, Metric.HEART_RATE, Device.WATCH)], minlength=cfg.patients
    )
    expected = cfg.n_seconds / (cfg.cadence.watch_minutes * 60)
    assert np.all(np.abs(per_patient - expected) <= 1)
    for metric in (Metric.SPO2, Metric.SYSTOLIC_BP, Metric.BODY_TEMPERATURE, Metric.RESPIRATORY_RATE):
        counts = np.bincount(c.patient[_rows(clean_cohort, metric)], minlength=cfg.patients)
        assert np.all(np.abs(counts - 3 * cfg.days) <= 1), metric  # 3 rounds a day (edges may jitter out)
    nightly = np.bincount(c.patient[_rows(clean_cohort, Metric.SLEEP_DURATION)], minlength=cfg.patients)
    assert np.all(nightly == cfg.days)
    assert len(np.unique(c.time[_rows(clean_cohort, Metric.SPO2)])) == _rows(clean_cohort, Metric.SPO2).sum()


def test_cadence_override_changes_watch_volume() -> None:
    cfg = CohortConfig(
        patients=3,
        days=1.0,
        seed=2,
        artefacts=Artefacts.none(),
        episode_rate=0,
        cadence=Cadence(watch_minutes=1.0),
    )
    cohort = simulate_cohort(cfg)
    assert abs(_rows(cohort, Metric.HEART_RATE, Device.WATCH).sum() - 3 * 1440) <= 3


def test_skipped_spot_checks_match_the_configured_rate() -> None:
    art = Artefacts.none().model_copy(update={"skip_check_prob": 0.3})
    cohort = simulate_cohort(CohortConfig(patients=200, days=3.0, seed=4, artefacts=art, episode_rate=0))
    delivered = _rows(cohort, Metric.SPO2).sum() / (200 * 3 * 3)
    assert delivered == pytest.approx(0.7, abs=0.03)


def test_watch_missingness_matches_the_configured_expectation() -> None:
    art = Artefacts.none().model_copy(
        update={"charging_hours": 1.0, "watch_off_day_prob": 0.1, "battery_flat_prob": 0.1}
    )
    cfg = CohortConfig(patients=150, days=4.0, seed=8, artefacts=art, episode_rate=0)
    cohort = simulate_cohort(cfg)
    scheduled = cfg.patients * cfg.n_seconds / 300
    missing = 1 - _rows(cohort, Metric.HEART_RATE, Device.WATCH).sum() / scheduled
    assert missing == pytest.approx(expected_watch_missing(art), abs=0.03)
    assert missing > 0.1


def test_news2_parameters_are_measured_together_several_times_a_day(default_cohort: Cohort) -> None:
    c, cfg = default_cohort.columns, default_cohort.config
    days_with_news2 = 0
    for p in range(cfg.patients):
        per_metric = [c.time[(c.patient == p) & _rows(default_cohort, m)] for m in NEWS2]
        for day in range(int(cfg.days)):
            lo = cfg.start_epoch + day * 86400
            hours = [set(((t[(t >= lo) & (t < lo + 86400)] - lo) // 3600).tolist()) for t in per_metric]
            complete = [
                h for h in hours[0] if all(any(abs(h - o) <= 1 for o in other) for other in hours[1:])
            ]
            days_with_news2 += len(complete) >= 1
    assert days_with_news2 / (cfg.patients * cfg.days) > 0.9


def test_copd_patients_have_scale_2_and_lower_spo2(default_cohort: Cohort) -> None:
    c = default_cohort.columns
    spo2 = _rows(default_cohort, Metric.SPO2) & (c.value > 0)
    copd = [i for i, p in enumerate(default_cohort.profiles) if "copd" in p.conditions]
    others = [i for i, p in enumerate(default_cohort.profiles) if "copd" not in p.conditions]
    assert copd and others
    assert all(default_cohort.profiles[i].spo2_scale == 2 for i in copd)
    assert all(default_cohort.profiles[i].spo2_scale == 1 for i in others)
    copd_values = c.value[spo2 & np.isin(c.patient, copd)]
    assert 86 <= np.median(copd_values) <= 92 < np.median(c.value[spo2 & np.isin(c.patient, others)])


def _inside(cohort: Cohort, ep: Episode, metric: Metric, *, late_half: bool) -> tuple[np.ndarray, np.ndarray]:
    c = cohort.columns
    p = cohort.patient_ids.index(ep.patient_id)
    assert ep.end is not None
    begin, end = ep.start.timestamp(), ep.end.timestamp()
    lo = begin + (end - begin) / 2 if late_half else begin
    rows = (c.patient == p) & _rows(cohort, metric) & (c.value > 0)
    during = rows & (c.time >= lo) & (c.time <= end)
    outside = rows & ((c.time < begin - 3600) | (c.time > end + 6 * 3600))
    return c.value[during], c.value[outside]


@pytest.fixture(scope="module")
def sepsis_cohort() -> Cohort:
    return simulate_cohort(
        CohortConfig(patients=30, days=6.0, seed=21, episode_rate=0.12, episode_kinds=("sepsis",))
    )


@pytest.mark.parametrize(
    ("metric", "sign", "min_shift"),
    [
        (Metric.HEART_RATE, 1, 12),
        (Metric.RESPIRATORY_RATE, 1, 3),
        (Metric.BODY_TEMPERATURE, 1, 0.6),
        (Metric.SPO2, -1, 2),
        (Metric.SYSTOLIC_BP, -1, 10),
    ],
)
def test_sepsis_moves_the_named_metrics(
    sepsis_cohort: Cohort, metric: Metric, sign: int, min_shift: float
) -> None:
    shifts = []
    for ep in sepsis_cohort.episodes:
        during, outside = _inside(sepsis_cohort, ep, metric, late_half=True)
        if len(during) >= 2 and len(outside) >= 5:
            shifts.append(sign * (during.mean() - outside.mean()))
    assert len(shifts) >= 5
    assert np.median(shifts) > min_shift
    assert all(metric in ep.metrics for ep in sepsis_cohort.episodes)


def test_sepsis_raises_check_cadence_and_brings_confusion_and_oxygen(sepsis_cohort: Cohort) -> None:
    c = sepsis_cohort.columns
    rates = []
    for ep in sepsis_cohort.episodes:
        assert ep.end is not None
        hours = (ep.end - ep.start).total_seconds() / 3600
        during, _ = _inside(sepsis_cohort, ep, Metric.RESPIRATORY_RATE, late_half=False)
        rates.append(len(during) / hours * 24)
    assert np.median(rates) > 5  # 3 rounds a day plus one every 4 h
    acvpu = c.value[_rows(sepsis_cohort, Metric.CONSCIOUSNESS)]
    assert 0 < (acvpu == 1).sum() < 0.2 * len(acvpu) and set(np.unique(acvpu)) <= {0.0, 1.0}
    assert (c.value[_rows(sepsis_cohort, Metric.SUPPLEMENTAL_OXYGEN)] == 1).any()


def test_relapse_lowers_sleep_steps_and_hrv() -> None:
    cohort = simulate_cohort(
        CohortConfig(
            patients=40,
            days=21.0,
            seed=5,
            episode_rate=0.08,
            episode_kinds=("relapse",),
            artefacts=Artefacts.none(),
        )
    )
    assert cohort.episodes and all(ep.kind == "relapse" for ep in cohort.episodes)
    assert all(
        "smi" in cohort.profiles[cohort.patient_ids.index(ep.patient_id)].conditions for ep in cohort.episodes
    )
    for metric in (Metric.SLEEP_DURATION, Metric.STEPS, Metric.HRV_RMSSD):
        ratios = []
        for ep in cohort.episodes:
            during, outside = _inside(cohort, ep, metric, late_half=True)
            if len(during) >= 2 and len(outside) >= 3:
                ratios.append(during.mean() / outside.mean())
        assert ratios and np.median(ratios) < 0.85, metric


def test_acute_episodes_are_labelled_with_their_metrics() -> None:
    cohort = simulate_cohort(
        CohortConfig(
            patients=60,
            days=3.0,
            seed=3,
            episode_rate=0.5,
            episode_kinds=("tachycardia", "desaturation", "hypotension"),
        )
    )
    kinds = {ep.kind for ep in cohort.episodes}
    assert kinds == {"tachycardia", "desaturation", "hypotension"}
    shifts = []
    for ep in (e for e in cohort.episodes if e.kind == "tachycardia"):
        assert ep.metrics == (Metric.HEART_RATE,)
        during, outside = _inside(cohort, ep, Metric.HEART_RATE, late_half=False)
        if len(during) >= 3:
            shifts.append(during.mean() - outside.mean())
    assert np.median(shifts) > 30
    for p in range(cohort.config.patients):
        eps = sorted(
            (e for e in cohort.episodes if e.patient_id == cohort.patient_ids[p]), key=lambda e: e.start
        )
        assert all(a.end is not None and a.end < b.start for a, b in itertools.pairwise(eps))
