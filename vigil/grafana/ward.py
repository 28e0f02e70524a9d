"""The *Virtual ward overview* board: one row per patient, riskiest first.

>>> board = ward_dashboard()
>>> board["uid"], [p["title"] for p in board["panels"]][:2]
('vigil-ward', ['Ward', 'Patients with NEWS2 ≥ 7'])
"""

from __future__ import annotations

from streams import schema as s
from vigil.grafana import influxql as q
from vigil.grafana.panels import (
    NEWS2_THRESHOLDS,
    Json,
    dashboard,
    dashboard_link,
    override,
    row,
    stat,
    table,
    target,
    thresholds,
    timeseries,
)

UID = "vigil-ward"
ACTIVE_STATUS_CONDITION = f"{q.ident(s.TAG_STATUS)} <> 'resolved'"


def latest_news2_per_patient() -> str:
    """Latest NEWS2 total and band of every patient in range."""
    return q.select_where(s.NEWS2, [f'last("{s.F_TOTAL}") AS "NEWS2"'], group_by=[s.TAG_PATIENT])


def patients_with_news2(at_least: int, below: int | None = None) -> str:
    """How many patients' latest NEWS2 is ``>= at_least`` (and ``< below``)."""
    inner = q.select_where(s.NEWS2, [f'last("{s.F_TOTAL}") AS "t"'], group_by=[s.TAG_PATIENT])
    where = f'"t" >= {at_least}' + (f' AND "t" < {below}' if below is not None else "")
    return f'SELECT count("t") FROM ({inner}) WHERE {where}'


def active_alerts(group_by: tuple[str, ...] = ()) -> str:
    """Alerts whose latest transition is not *resolved* (per patient and kind), counted.

    The inner query keeps the latest transition of each (patient, kind) with its status tag.
    """
    inner = q.select_where(
        s.ALERT,
        [f'last("{s.F_SEVERITY_LEVEL}") AS "level"', q.ident(s.TAG_STATUS)],
        group_by=[s.TAG_PATIENT, s.TAG_KIND],
    )
    query = (
        f'SELECT count("level") AS "active alerts", max("level") AS "max level" FROM ({inner}) '
        f"WHERE {ACTIVE_STATUS_CONDITION}"
    )
    return query + (" GROUP BY " + ", ".join(q.ident(t) for t in group_by) if group_by else "")


def last_reading_per_patient() -> str:
    """The time of each patient's latest reading (its age is the data-quality signal)."""
    return q.select_where(s.READING, [f'last("{s.F_VALUE}") AS "last value"'], group_by=[s.TAG_PATIENT])


def patients_reporting() -> str:
    """How many patients sent any reading in the time range."""
    inner = q.select_where(s.READING, [f'last("{s.F_VALUE}") AS "v"'], group_by=[s.TAG_PATIENT])
    return f'SELECT count("v") FROM ({inner})'


def news2_trend() -> str:
    """Each patient's NEWS2 over time (the sparklines)."""
    return q.select_where(
        s.NEWS2, [f'max("{s.F_TOTAL}")'], group_by=[s.TAG_PATIENT], by_time=q.INTERVAL, fill="none"
    )


def recent_alert_transitions() -> str:
    """Every alert transition in range, newest first."""
    return (
        q.select_where(
            s.ALERT,
            [
                q.ident(f)
                for f in (s.F_MESSAGE, s.F_ALERT_METRIC, s.F_SEVERITY_LEVEL, s.F_ALERT_ID, s.F_ACK_URL)
            ],
            group_by=[s.TAG_PATIENT, s.TAG_KIND, s.TAG_SEVERITY, s.TAG_STATUS],
        )
        + " ORDER BY time DESC LIMIT 200"
    )


def _patient_link(patient_dashboard_uid: str) -> tuple[str, list[Json]]:
    url = f"/d/{patient_dashboard_uid}/vigil-patient?var-patient=${{__value.raw}}&${{__url_time_range}}"
    return "links", [{"title": "Open patient drill-down", "url": url}]


def _risk_table(patient_dashboard_uid: str) -> Json:
    joined = {"id": "joinByField", "options": {"byField": s.TAG_PATIENT, "mode": "outer"}}
    organise = {
        "id": "organize",
        "options": {
            "excludeByName": {"Time 1": True, "Time 2": True, "last value": True},
            "renameByName": {"Time 3": "last reading", s.TAG_PATIENT: "patient"},
            "indexByName": {s.TAG_PATIENT: 0, "NEWS2": 1, "active alerts": 2, "max level": 3, "Time 3": 4},
        },
    }
    return table(
        "Patients by risk",
        [
            target("A", latest_news2_per_patient(), result_format="table"),
            target("B", active_alerts((s.TAG_PATIENT,)), result_format="table"),
            target("C", last_reading_per_patient(), result_format="table"),
        ],
        description="Latest NEWS2 (green 0-4, amber 5-6, red 7+), active alerts and the age of the last "
        "reading per patient. Click a patient to drill down; click a header to re-sort.",
        transformations=[joined, organise],
        overrides=[
            override(
                "NEWS2",
                ("thresholds", NEWS2_THRESHOLDS),
                ("custom.cellOptions", {"type": "color-background"}),
            ),
            override(
                "max level",
                ("displayName", "highest severity"),
                (
                    "mappings",
                    [
                        {
                            "type": "value",
                            "options": {
                                "0": {"text": "info"},
                                "1": {"text": "low"},
                                "2": {"text": "medium"},
                                "3": {"text": "high"},
                            },
                        }
                    ],
                ),
            ),
            override("last reading", ("unit", "dateTimeFromNow")),
            override("patient", _patient_link(patient_dashboard_uid)),
        ],
        sort_by="NEWS2",
    )


def ward_dashboard(patient_dashboard_uid: str = "vigil-patient") -> Json:
    """The ward overview dashboard model."""
    counts = thresholds((None, "green"), (1, "red"))
    panels = [
        (row("Ward"), 24, 1),
        (
            stat(
                "Patients with NEWS2 ≥ 7",
                [target("A", patients_with_news2(7))],
                threshold_steps=counts,
                no_value="0",
            ),
            6,
            4,
        ),
        (
            stat(
                "Patients with NEWS2 5-6",
                [target("A", patients_with_news2(5, 7))],
                no_value="0",
                threshold_steps=thresholds((None, "green"), (1, "orange")),
            ),
            6,
            4,
        ),
        (stat("Active alerts", [target("A", active_alerts())], threshold_steps=counts, no_value="0"), 6, 4),
        (stat("Patients reporting", [target("A", patients_reporting())], no_value="0"), 6, 4),
        (_risk_table(patient_dashboard_uid), 24, 12),
        (
            stat(
                "NEWS2 trend by patient",
                [target("A", news2_trend(), alias=f"$tag_{s.TAG_PATIENT}")],
                threshold_steps=NEWS2_THRESHOLDS,
                sparkline=True,
                description="One tile per patient: latest NEWS2 with its trend.",
            ),
            24,
            8,
        ),
        (
            table(
                "Recent alert transitions", [target("A", recent_alert_transitions(), result_format="table")]
            ),
            16,
            10,
        ),
        (
            timeseries(
                "Alert transitions by severity",
                [
                    target(
                        "A",
                        q.select_where(
                            s.ALERT,
                            [f'count("{s.F_ALERT_ID}")'],
                            group_by=[s.TAG_SEVERITY],
                            by_time=q.INTERVAL,
                            fill="0",
                        ),
                        alias=f"$tag_{s.TAG_SEVERITY}",
                    )
                ],
                bars=True,
                stack=True,
            ),
            8,
            10,
        ),
    ]
    return dashboard(
        UID,
        "Vigil · Virtual ward overview",
        panels,
        description="Every patient on the virtual ward, riskiest first.",
        links=[
            dashboard_link("Patient drill-down", patient_dashboard_uid),
            dashboard_link("Pipeline health", "vigil-pipeline"),
        ],
    )
