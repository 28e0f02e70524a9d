"""Vigil's Grafana alert rules: NEWS2, Vigil's own high-severity alerts, data gaps, pipeline stalls.

Every rule is multi-dimensional: InfluxQL ``GROUP BY "patient_id"`` makes one alert
instance per patient, labelled ``patient_id``, so notification policies can group by it.
Rules carry a ``severity`` label that the notification policies route on:

``page``
    NEWS2 7 or more, or any Vigil alert of high severity: page the on-call clinician now.
``urgent``
    NEWS2 5-6 or a single parameter scoring 3 (band ``medium`` or ``low-medium``): urgent review.
``data-quality``
    A patient's device stopped sending (Vigil's ``data_gap`` alerts).
``platform``
    Nothing ingested at all, or consumer lag growing: the pipeline, not a patient.

Queries bound time themselves (``time > now() - ...``) instead of using ``$timeFilter``,
because provisioning files are environment-interpolated.

>>> rules = {r["uid"]: r for g in rule_groups(Settings()) for r in g["rules"]}
>>> rules["vigil-news2-high"]["labels"]["severity"], rules["vigil-news2-high"]["for"]
('page', '0s')
"""

from __future__ import annotations

from typing import Any, Literal

from detectors.news2 import Band
from streams import schema as s
from vigil.grafana import influxql as q
from vigil.grafana.expressions import influx_query, reduce_last, threshold
from vigil.grafana.panels import FOLDER_TITLE
from vigil.settings import Settings

Json = dict[str, Any]

NEWS2_URGENT_BANDS = (Band.MEDIUM.value, Band.LOW_MEDIUM.value)
"""NEWS2 bands that need urgent review: aggregate 5-6, or a single parameter scoring 3."""
ALERT_LOOKBACK = "24h"
"""A Vigil alert whose latest transition is older than this is no longer re-evaluated."""
INGEST_STALL = "15m"
CONSUMER_LAG_LIMIT = 10_000
CLINICAL_GROUP, PLATFORM_GROUP = "vigil-clinical", "vigil-platform"


def _seconds(duration: str) -> int:
    """``"15m"`` -> 900 (s, m, h only)."""
    return int(duration[:-1]) * {"s": 1, "m": 60, "h": 3600}[duration[-1]]


def latest_news2_query(freshness: str) -> str:
    """Each patient's latest NEWS2 total within ``freshness``."""
    return q.select_where(
        s.NEWS2, [f'last("{s.F_TOTAL}")'], group_by=[s.TAG_PATIENT], time_filter=f"time > now() - {freshness}"
    )


def urgent_band_query(freshness: str) -> str:
    """Patients whose latest NEWS2 band needs urgent review (value: the total)."""
    inner = q.select_where(
        s.NEWS2,
        [f'last("{s.F_TOTAL}") AS "total"', f'last("{s.F_BAND}") AS "band"'],
        group_by=[s.TAG_PATIENT],
        time_filter=f"time > now() - {freshness}",
    )
    bands = " OR ".join(f'"band" = {q.literal(b)}' for b in NEWS2_URGENT_BANDS)
    return f'SELECT "total" FROM ({inner}) WHERE {bands} GROUP BY {q.ident(s.TAG_PATIENT)}'


def open_alerts_query(kind_condition: str) -> str:
    """Per patient and kind, the severity level of the latest alert transition if it is not *resolved*."""
    inner = q.select_where(
        s.ALERT,
        [f'last("{s.F_SEVERITY_LEVEL}") AS "level"', q.ident(s.TAG_STATUS)],
        [kind_condition],
        group_by=[s.TAG_PATIENT, s.TAG_KIND],
        time_filter=f"time > now() - {ALERT_LOOKBACK}",
    )
    return (
        f"SELECT \"level\" FROM ({inner}) WHERE {q.ident(s.TAG_STATUS)} <> 'resolved' "
        f"GROUP BY {q.ident(s.TAG_PATIENT)}, {q.ident(s.TAG_KIND)}"
    )


def readings_ingested_query() -> str:
    """How many readings arrived in the last :data:`INGEST_STALL` (no series at all when none)."""
    return q.select_where(s.READING, [f'count("{s.F_VALUE}")'], time_filter=f"time > now() - {INGEST_STALL}")


def consumer_lag_query() -> str:
    """Each worker's worst consumer lag in the last 5 minutes."""
    return q.select_where(
        s.PIPELINE, [f'max("{s.F_CONSUMER_LAG}")'], group_by=[s.TAG_WORKER], time_filter="time > now() - 5m"
    )


def _annotations(settings: Settings, summary: str, description: str, per_patient: bool = True) -> Json:
    g = settings.grafana
    notes: Json = {"summary": summary, "description": description}
    if per_patient:
        notes["patient_dashboard"] = (
            f"{g.url}/d/{g.patient_dashboard_uid}/vigil-patient?var-patient={{{{ $labels.patient_id }}}}"
        )
        notes["acknowledge"] = (
            f"{g.ack_base_url}/v1/alerts/<alert_id>/ack (POST); each alert's link is in the "
            "patient dashboard's alert annotations and the ward's alert table"
        )
        notes["__dashboardUid__"] = g.patient_dashboard_uid
    return notes


def _rule(
    uid: str,
    title: str,
    query: tuple[str, int],
    fires_when: tuple[Literal["gt", "lt"], float],
    *,
    severity: str,
    for_: str,
    annotations: Json,
    no_data: str = "OK",
) -> Json:
    """A rule: InfluxQL ``query`` over its window (A), latest value per series (B), threshold (C)."""
    return {
        "uid": uid,
        "title": title,
        "condition": "C",
        "data": [influx_query("A", *query), reduce_last("B", "A"), threshold("C", "B", *fires_when)],
        "noDataState": no_data,
        "execErrState": "Error",
        "for": for_,
        "labels": {"severity": severity, "service": "vigil"},
        "annotations": annotations,
        "isPaused": False,
    }


def clinical_rules(settings: Settings) -> list[Json]:
    """NEWS2 high and medium, Vigil high-severity alerts, and data gaps (per patient)."""
    fresh = f"{int(settings.detectors.news2_freshness_minutes)}m"
    news2_window, alert_window = _seconds(fresh), _seconds(ALERT_LOOKBACK)
    patient = "patient {{ $labels.patient_id }}"
    return [
        _rule(
            "vigil-news2-high",
            "NEWS2 7 or more",
            (latest_news2_query(fresh), news2_window),
            ("gt", 6),
            severity="page",
            for_="0s",
            annotations=_annotations(
                settings,
                f"NEWS2 {{{{ $values.B.Value }}}} for {patient}",
                "High clinical risk (NEWS2 7+): emergency assessment by the on-call clinical team.",
            ),
        ),
        _rule(
            "vigil-news2-urgent",
            "NEWS2 5-6 or a single parameter scoring 3",
            (urgent_band_query(fresh), news2_window),
            ("gt", -1),
            severity="urgent",
            for_="0s",
            annotations=_annotations(
                settings,
                f"NEWS2 {{{{ $values.B.Value }}}} (urgent band) for {patient}",
                "Medium clinical risk: urgent review by a clinician.",
            ),
        ),
        _rule(
            "vigil-alert-high",
            "Vigil high-severity alert open",
            (open_alerts_query(f"{q.ident(s.TAG_KIND)} <> 'news2'"), alert_window),
            ("gt", 2.5),
            severity="page",
            for_="0s",
            annotations=_annotations(
                settings,
                f"Vigil {{{{ $labels.kind }}}} alert (high) for {patient}",
                "A Vigil detector raised a high-severity alert; see the patient dashboard "
                "for the reading, the expected range and the reason.",
            ),
        ),
        _rule(
            "vigil-data-gap",
            "Patient data gap",
            (open_alerts_query(q.eq(s.TAG_KIND, "data_gap")), alert_window),
            ("gt", -1),
            severity="data-quality",
            for_="5m",
            annotations=_annotations(
                settings,
                f"No data from the device of {patient}",
                "A device stopped sending for longer than its cadence allows: check the "
                "device and contact the patient.",
            ),
        ),
    ]


def platform_rules(settings: Settings) -> list[Json]:
    """Pipeline-level rules: nothing ingested at all, consumer lag growing."""
    return [
        _rule(
            "vigil-ingest-stalled",
            "No readings ingested",
            (readings_ingested_query(), _seconds(INGEST_STALL)),
            ("lt", 1),
            severity="platform",
            for_="5m",
            no_data="Alerting",
            annotations=_annotations(
                settings,
                f"No readings stored for {INGEST_STALL}",
                "Check the gateway, the MQTT bridge, Kafka, the workers and InfluxDB "
                "(Pipeline health dashboard).",
                per_patient=False,
            ),
        ),
        _rule(
            "vigil-consumer-lag",
            "Worker consumer lag high",
            (consumer_lag_query(), 300),
            ("gt", CONSUMER_LAG_LIMIT),
            severity="platform",
            for_="5m",
            annotations=_annotations(
                settings,
                "Worker {{ $labels.worker_id }} lag {{ $values.B.Value }}",
                "Workers fall behind: add workers (up to the partition count) or check InfluxDB latency.",
                per_patient=False,
            ),
        ),
    ]


def rule_groups(settings: Settings, org_id: int = 1) -> list[Json]:
    """All rule groups in Grafana's file-provisioning shape (``groups:`` entries)."""
    return [
        {
            "orgId": org_id,
            "name": CLINICAL_GROUP,
            "folder": FOLDER_TITLE,
            "interval": "1m",
            "rules": clinical_rules(settings),
        },
        {
            "orgId": org_id,
            "name": PLATFORM_GROUP,
            "folder": FOLDER_TITLE,
            "interval": "1m",
            "rules": platform_rules(settings),
        },
    ]
