"""Detector tuning: the one place a :class:`~detectors.monitor.MonitorConfig` is built from settings.

The streaming worker, the embedded demo, ``vigil replay`` and ``vigil evaluate`` all call
:func:`monitor_config`; a run may put a :class:`Tuning` on top (thresholds a clinical team
changes for one replay), and :func:`hourly_icu_config` is the preset for hourly ICU data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import timedelta

from detectors.monitor import MonitorConfig
from detectors.multivariate import MultivariateDetector
from detectors.policy import PolicyConfig
from vigil.settings import Settings


@dataclass(frozen=True, slots=True)
class Tuning:
    """Detector thresholds a clinical team may change for one run (None: the settings / library default).

    ``persist`` is (n, m): raise after n abnormal of the last m signals; ``persist_minutes``
    0 switches the time-based persistence off (suits hourly data).
    """

    warmup_readings: int | None = None
    persist: tuple[int, int] | None = None
    persist_minutes: float | None = None
    anomaly_z: float | None = None

    @staticmethod
    def parse_persist(text: str) -> tuple[int, int]:
        """``"2/3"`` as (2, 3); raises ``ValueError`` naming the option.

        >>> Tuning.parse_persist("2/3")
        (2, 3)
        """
        try:
            n, m = (int(x) for x in text.split("/"))
        except ValueError as exc:
            raise ValueError(f"persist: expected N/M such as 2/3, got {text!r}") from exc
        return n, m


def monitor_config(settings: Settings, tuning: Tuning = Tuning()) -> MonitorConfig:
    """The detector tuning from ``Settings.detectors``, with this run's :class:`Tuning` on top.

    >>> monitor_config(Settings(), Tuning(persist=(1, 1), persist_minutes=0)).policy.persist_minutes is None
    True
    """
    d = settings.detectors
    base = MonitorConfig()
    policy = base.policy
    if tuning.persist is not None:
        policy = replace(policy, persist_n=tuning.persist[0], persist_m=tuning.persist[1])
    if tuning.persist_minutes is not None:
        policy = replace(policy, persist_minutes=tuning.persist_minutes or None)
    anomaly_z = tuning.anomaly_z if tuning.anomaly_z is not None else base.anomaly_z
    return replace(
        base,
        policy=policy,
        warmup_readings=d.warmup_readings if tuning.warmup_readings is None else tuning.warmup_readings,
        news2_freshness=timedelta(minutes=d.news2_freshness_minutes),
        anomaly_z=anomaly_z,
        borderline_z=min(base.borderline_z, anomaly_z),
    )


def tuning_rows(config: MonitorConfig) -> dict[str, object]:
    """The thresholds a run used, for the report."""
    p = config.policy
    return {
        "warm-up readings per metric": config.warmup_readings,
        "anomaly |z| (alert) / borderline": f"{config.anomaly_z:g} / {config.borderline_z:g}",
        "persistence (n of m signals)": f"{p.persist_n} of {p.persist_m}",
        "persistence (minutes)": "off" if p.persist_minutes is None else f"{p.persist_minutes:g}",
        "NEWS2 freshness": str(config.news2_freshness),
        "late after": str(config.late_after),
        "escalate after (minutes)": f"{p.escalate_after_minutes:g}",
        "resolve after normal signals / minutes": f"{p.resolve_after_normal} / {p.resolve_after_minutes}",
    }


def hourly_icu_config(settings: Settings) -> MonitorConfig:
    """The preset for hourly ICU rows (PhysioNet 2019), chosen on its *tune* half (docs/detectors.md).

    Warm-up and persistence count readings, so an hour each: raise on the first abnormal hourly
    set, resolve after two normal signals in a row (or two hours without anything abnormal or
    borderline). Single-vital anomalies never raise an alert here (``anomaly_z`` infinite; a
    residual |z| >= 2.5 is still BORDERLINE and keeps an open alert open): ICU patients are not
    well when their baseline is learned, and on the tune half they added burden, not catches.

    >>> hourly_icu_config(Settings()).policy.persist_n
    1
    """
    return replace(
        monitor_config(settings),
        warmup_readings=12,
        anomaly_z=math.inf,
        borderline_z=2.5,
        policy=PolicyConfig(
            persist_n=1,
            persist_m=1,
            persist_minutes=None,
            resolve_after_normal=2,
            resolve_after_minutes=120.0,
        ),
        multivariate=MultivariateDetector(abnormal_z=3.0, borderline_z=2.0),
    )
