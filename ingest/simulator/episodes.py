"""Injected clinical episodes: what each kind does to which metric, and when they happen.

An episode's effect at time ``t`` is its *severity* (0..1) times the kind's effect
per metric. Gradual episodes (sepsis, relapse) ramp up to full severity over the
first 80 % of the episode; acute ones are at full severity throughout. Effects on
vital signs add (``+35`` beats/min); effects on daily behaviour multiply
(``-0.5`` halves the steps).

>>> import numpy as np
>>> from datetime import UTC, datetime
>>> ep = Episode(patient_id="p1", kind="sepsis", start=datetime(2025, 1, 1, tzinfo=UTC),
...              end=datetime(2025, 1, 2, tzinfo=UTC))
>>> t0 = int(ep.start.timestamp())
>>> severity([ep], np.array([t0 - 1, t0 + 43200, t0 + 86400]), kinds={"sepsis"}).round(2).tolist()
[0.0, 0.62, 1.0]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from ingest.episodes import Episode
from ingest.metrics import Metric
from ingest.simulator.profiles import SimPatient

M = Metric


@dataclass(frozen=True, slots=True)
class EpisodeKind:
    """One kind of episode: its effects at full severity, duration and who can have it."""

    name: str
    effects: dict[Metric, float]
    hours: tuple[float, float]
    gradual: bool = False
    relative: bool = False
    weight: float = 1.0
    eligible: Callable[[SimPatient], bool] = lambda p: True


KINDS: dict[str, EpisodeKind] = {
    k.name: k
    for k in (
        EpisodeKind(
            "sepsis",
            {
                M.HEART_RATE: 35,
                M.RESPIRATORY_RATE: 10,
                M.BODY_TEMPERATURE: 2.0,
                M.SPO2: -6,
                M.SYSTOLIC_BP: -35,
                M.DIASTOLIC_BP: -18,
            },
            hours=(12, 48),
            gradual=True,
            weight=2.0,
        ),
        EpisodeKind("desaturation", {M.SPO2: -10, M.HEART_RATE: 12, M.RESPIRATORY_RATE: 5}, hours=(0.5, 3)),
        EpisodeKind("bradycardia", {M.HEART_RATE: -32}, hours=(0.5, 2)),
        EpisodeKind("tachycardia", {M.HEART_RATE: 50}, hours=(0.5, 3)),
        EpisodeKind("hypotension", {M.SYSTOLIC_BP: -40, M.DIASTOLIC_BP: -20, M.HEART_RATE: 15}, hours=(1, 4)),
        EpisodeKind(
            "hypoglycaemia",
            {M.BLOOD_GLUCOSE: -6.0, M.HEART_RATE: 15},
            hours=(0.5, 2),
            eligible=lambda p: p.has("diabetes"),
        ),
        EpisodeKind(
            "hyperglycaemia", {M.BLOOD_GLUCOSE: 12.0}, hours=(3, 12), eligible=lambda p: p.has("diabetes")
        ),
        EpisodeKind(
            "relapse",
            {M.SLEEP_DURATION: -0.35, M.STEPS: -0.5, M.ACTIVITY_MINUTES: -0.5, M.HRV_RMSSD: -0.3},
            hours=(5 * 24, 14 * 24),
            gradual=True,
            relative=True,
            weight=2.0,
            eligible=lambda p: p.has("smi"),
        ),
    )
}
"""Every episode kind the simulator can inject, by name (the ``Episode.kind`` label)."""


def sample_episodes(
    rng: np.random.Generator,
    patient: SimPatient,
    *,
    start: int,
    seconds: int,
    rate_per_day: float,
    kinds: Iterable[str] | None = None,
) -> list[Episode]:
    """Draw non-overlapping episodes for one patient (Poisson count, uniform starts)."""
    allowed = [KINDS[k] for k in (kinds if kinds is not None else KINDS) if KINDS[k].eligible(patient)]
    wanted = int(rng.poisson(rate_per_day * seconds / 86400)) if allowed else 0
    weights = np.array([k.weight for k in allowed])
    spans: list[tuple[int, int, EpisodeKind]] = []
    for _ in range(wanted * 5):
        if len(spans) == wanted:
            break
        kind = allowed[int(rng.choice(len(allowed), p=weights / weights.sum()))]
        begin = start + int(rng.integers(0, seconds))
        end = min(begin + int(rng.uniform(*kind.hours) * 3600), start + seconds)
        if all(end < b or begin > e for b, e, _ in spans):
            spans.append((begin, end, kind))
    return [
        Episode(
            patient_id=patient.patient_id,
            kind=k.name,
            start=datetime.fromtimestamp(b, UTC),
            end=datetime.fromtimestamp(e, UTC),
            metrics=tuple(k.effects),
        )
        for b, e, k in sorted(spans, key=lambda s: s[0])
    ]


def _bounds(ep: Episode) -> tuple[int, int]:
    end = ep.end if ep.end is not None else datetime.max.replace(tzinfo=UTC)
    return int(ep.start.timestamp()), int(min(end.timestamp(), 2**62))


def severity(episodes: Sequence[Episode], t: np.ndarray, *, kinds: set[str] | None = None) -> np.ndarray:
    """The highest severity (0..1) at each time ``t`` (epoch seconds) of the episodes of ``kinds``."""
    out = np.zeros(t.shape, dtype=float)
    for ep in episodes:
        if kinds is not None and ep.kind not in kinds:
            continue
        begin, end = _bounds(ep)
        inside = (t >= begin) & (t <= end)
        if KINDS[ep.kind].gradual:
            ramp = np.clip((t - begin) / max(0.8 * (end - begin), 1.0), 0.0, 1.0)
            out = np.maximum(out, np.where(inside, ramp, 0.0))
        else:
            out = np.maximum(out, inside.astype(float))
    return out


def apply_effects(
    episodes: Sequence[Episode], metric: Metric, t: np.ndarray, values: np.ndarray
) -> np.ndarray:
    """``values`` of ``metric`` at times ``t`` with every episode's effect applied."""
    out = values.astype(float, copy=True)
    for ep in episodes:
        kind = KINDS[ep.kind]
        effect = kind.effects.get(metric)
        if effect is None:
            continue
        level = severity([ep], t) * effect
        out = out * (1.0 + level) if kind.relative else out + level
    return out
