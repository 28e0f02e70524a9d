"""How well alerts find labelled episodes, and at what alert burden — side by side with NEWS2 >= 5 alone.

Pure functions over alert *onsets* (``Alert``: patient, label, time) and labelled
:class:`~ingest.episodes.Episode`\\ s. For each label (an alert kind, ``any`` clinical
kind, or the ``NEWS2>=5`` comparator) and each episode:

* the episode's *onset* is ``start + onset_offset[kind]`` (sepsis: the PhysioNet label
  starts 6 h before clinical onset, so onset = start + 6 h; simulated episodes: onset = start);
* **by onset**: an alert in ``[onset - lookback, onset]`` (default 6 h);
* **during**: an alert in ``[onset - lookback, end]`` (end: the episode end, or onset + 24 h);
* **lead**: ``onset - first alert in the "during" window`` in hours (negative: after onset);
* **burden**: alert onsets per patient-day over the patients with no labelled episode.

:func:`run_cohort` drives a :class:`~detectors.cohort.CohortMonitor` over readings and
collects the monitor's raised alerts (``any clinical``: a clinical alert raised while no
other clinical alert of the patient is open) and the NEWS2 >= 5 comparator (a new alert
each time a patient's current NEWS2 total reaches 5 after being below 5). With a
:class:`Hysteresis` it also collects ``NEWS2>=5 (same hysteresis)``: the same rule, but an
episode ends only as Vigil's alerts resolve (``after_normal`` readings below 5 in a row, or
``after`` without a total >= 5), so both sides count alert episodes the same way.

>>> from datetime import UTC, datetime, timedelta
>>> t = datetime(2025, 1, 6, tzinfo=UTC)
>>> ep = Episode(patient_id="a", kind="sepsis", start=t)
>>> alerts = [Alert("a", "news2", t + timedelta(hours=2)), Alert("b", "news2", t)]
>>> exposure = {"a": (t, t + timedelta(days=2)), "b": (t, t + timedelta(days=4))}
>>> row = evaluate(alerts, [ep], exposure).rows[0]
>>> row.label, row.by_onset, row.median_lead_hours, row.alerts_per_patient_day
('news2', 1.0, 4.0, 0.25)
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from detectors.cohort import CohortMonitor
from detectors.events import AlertKind, AlertStatus
from ingest.episodes import Episode
from ingest.reading import Reading

NEWS2_COMPARATOR = "NEWS2>=5"
NEWS2_MATCHED = "NEWS2>=5 (same hysteresis)"
"""The comparator with Vigil's resolve rule (see :class:`Hysteresis`): the same alert-episode counting."""
ANY_CLINICAL = "any clinical"
CLINICAL_KINDS = frozenset(
    {AlertKind.NEWS2, AlertKind.HARD_LIMIT, AlertKind.ANOMALY, AlertKind.MULTIVARIATE, AlertKind.BEHAVIOUR}
)
"""Kinds about the patient (not the device) that make up the ``any clinical`` row."""

DEFAULT_ONSET_OFFSET: dict[str, timedelta] = {"sepsis": timedelta(hours=6)}


class Alert(NamedTuple):
    """The onset of one alert episode."""

    patient_id: str
    label: str
    time: datetime


@dataclass(frozen=True, slots=True)
class LabelResult:
    """One row of the evaluation table."""

    label: str
    episodes: int
    by_onset: float | None  # share of episodes alerted in [onset - lookback, onset]
    during: float | None  # share alerted in [onset - lookback, end]
    median_lead_hours: float | None
    alerts: int  # alert onsets over the non-event patients
    alerts_per_patient_day: float | None


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Rows per label plus the exposure they were computed on."""

    rows: list[LabelResult]
    patients: int
    event_patients: int
    non_event_patient_days: float
    lookback_hours: float
    notes: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["rows"] = [asdict(r) for r in self.rows]
        return d

    def to_markdown(self) -> str:
        """The rows as a markdown table."""
        head = (
            "| alert | episodes | alerted by onset | alerted during | median lead (h) "
            "| alerts / patient-day |\n"
            "|---|---:|---:|---:|---:|---:|\n"
        )

        def pct(v: float | None) -> str:
            return "–" if v is None else f"{v:.1%}"

        def num(v: float | None, spec: str) -> str:
            return "–" if v is None else format(v, spec)

        lines = [
            f"| {r.label} | {r.episodes} | {pct(r.by_onset)} | {pct(r.during)} | "
            f"{num(r.median_lead_hours, '.1f')} | {num(r.alerts_per_patient_day, '.3f')} |"
            for r in self.rows
        ]
        return head + "\n".join(lines) + "\n"


def evaluate(
    alerts: Iterable[Alert],
    episodes: Sequence[Episode],
    exposure: Mapping[str, tuple[datetime, datetime]],
    *,
    lookback: timedelta = timedelta(hours=6),
    onset_offset: Mapping[str, timedelta] = DEFAULT_ONSET_OFFSET,
    default_span: timedelta = timedelta(hours=24),
    event_patients: set[str] | None = None,
) -> Evaluation:
    """Score alert onsets against labelled episodes (see the module docstring).

    ``exposure`` maps every patient to the (first, last) event time of their data.
    ``event_patients`` (default: the patients of ``episodes``) are left out of the burden,
    e.g. all labelled patients when ``episodes`` holds only one kind.
    """
    by_label: dict[str, dict[str, list[datetime]]] = defaultdict(lambda: defaultdict(list))
    for a in alerts:
        by_label[a.label][a.patient_id].append(a.time)
    if event_patients is None:
        event_patients = {e.patient_id for e in episodes}
    quiet = [p for p in exposure if p not in event_patients]
    days = sum((exposure[p][1] - exposure[p][0]).total_seconds() for p in quiet) / 86400.0
    rows = []
    for label in sorted(by_label, key=_label_order):
        per_patient = by_label[label]
        hits_onset = hits_during = 0
        leads = []
        for e in episodes:
            onset = e.start + onset_offset.get(e.kind, timedelta(0))
            end = e.end if e.end is not None else onset + default_span
            times = [t for t in per_patient.get(e.patient_id, ()) if onset - lookback <= t <= max(end, onset)]
            if times:
                first = min(times)
                hits_during += 1
                hits_onset += first <= onset
                leads.append((onset - first).total_seconds() / 3600.0)
        n = len(episodes)
        n_alerts = sum(len(per_patient.get(p, ())) for p in quiet)
        rows.append(
            LabelResult(
                label=label,
                episodes=n,
                by_onset=hits_onset / n if n else None,
                during=hits_during / n if n else None,
                median_lead_hours=statistics.median(leads) if leads else None,
                alerts=n_alerts,
                alerts_per_patient_day=n_alerts / days if days > 0 else None,
            )
        )
    return Evaluation(
        rows, len(exposure), len(event_patients & set(exposure)), days, lookback.total_seconds() / 3600
    )


def _label_order(label: str) -> tuple[int, str]:
    return (0 if label.startswith(NEWS2_COMPARATOR) else 1 if label == ANY_CLINICAL else 2, label)


@dataclass(frozen=True, slots=True)
class Hysteresis:
    """When a NEWS2 >= 5 comparator episode ends: as the alert policy resolves (``PolicyConfig``).

    ``after_normal`` readings with a total below 5 in a row, or ``after`` (None: never) since
    the last total >= 5, judged at each of the patient's readings.
    """

    after_normal: int = 1
    after: timedelta | None = None


@dataclass(slots=True)
class CohortRun:
    """What :func:`run_cohort` collected."""

    alerts: list[Alert] = field(default_factory=list)
    exposure: dict[str, tuple[datetime, datetime]] = field(default_factory=dict)
    readings: int = 0


def run_cohort(
    cohort: CohortMonitor,
    readings: Iterable[Reading],
    *,
    tick: bool = True,
    hysteresis: Hysteresis | None = None,
) -> CohortRun:
    """Process readings through the cohort; collect raised alerts (per kind, ``any clinical``) and NEWS2 >= 5.

    With ``tick`` each patient's monitor is also ticked at each of its reading times, so
    time-based resolution and escalation happen as they would in the stream. ``hysteresis``
    adds the ``NEWS2>=5 (same hysteresis)`` comparator.
    """
    run = CohortRun()
    news2_high: dict[str, bool] = {}
    seen_alerts: set[str] = set()
    open_clinical: dict[str, set[str]] = defaultdict(set)
    matched: dict[str, tuple[int, datetime]] = {}  # open comparator episode: (normal run, last >= 5)
    for r in readings:
        run.readings += 1
        pid, t = r.patient_id, r.time
        first, last = run.exposure.get(pid, (t, t))
        run.exposure[pid] = (min(first, t), max(last, t))
        out = cohort.process(r)
        events = out.events + (cohort.monitor.tick(cohort.state(pid), t) if tick else [])
        for e in events:
            if e.status is AlertStatus.RAISED and e.alert_id not in seen_alerts:
                seen_alerts.add(e.alert_id)
                run.alerts.append(Alert(pid, e.kind.value, e.start))
                if e.kind in CLINICAL_KINDS:
                    if not open_clinical[pid]:
                        run.alerts.append(Alert(pid, ANY_CLINICAL, e.start))
                    open_clinical[pid].add(e.alert_id)
            elif e.status is AlertStatus.RESOLVED:
                open_clinical[pid].discard(e.alert_id)
        if out.news2 is not None:
            high = out.news2.total >= 5
            if high and not news2_high.get(pid, False):
                run.alerts.append(Alert(pid, NEWS2_COMPARATOR, t))
            news2_high[pid] = high
            if hysteresis is not None:
                _matched_step(run, matched, hysteresis, pid, t, high)
        elif hysteresis is not None and pid in matched:
            _matched_step(run, matched, hysteresis, pid, t, None)
    return run


def _matched_step(
    run: CohortRun,
    matched: dict[str, tuple[int, datetime]],
    hysteresis: Hysteresis,
    pid: str,
    t: datetime,
    high: bool | None,
) -> None:
    """One reading of the same-hysteresis comparator (``high`` None: no NEWS2 at this reading)."""
    state = matched.get(pid)
    if high:
        if state is None:
            run.alerts.append(Alert(pid, NEWS2_MATCHED, t))
        matched[pid] = (0, t)
        return
    if state is None:
        return
    normal, last_high = state
    normal += high is not None
    if normal >= hysteresis.after_normal or (
        hysteresis.after is not None and t - last_high >= hysteresis.after
    ):
        del matched[pid]
    else:
        matched[pid] = (normal, last_high)
