"""The InfluxDB schema: the one source of truth for measurement, tag and field names.

Grafana dashboards (InfluxQL) and tests import these names; ``docs/streams.md``
documents them. Every point has a *deterministic* timestamp and tag set, so a batch
written twice (at-least-once delivery after a crash or an outage) overwrites itself:

* time = the event time in whole microseconds, times 1000, plus a sub-microsecond
  offset in ``0..999`` ns derived from the record's id (:func:`ns_time`). Two records
  that share tags and microsecond never collide unless their ids collide modulo 1000,
  and the displayed time never moves by more than a microsecond.
* tags are low-cardinality identifiers (pseudonymous patient id, metric, device,
  kind, severity, status); values and free text are fields.

>>> from datetime import UTC, datetime
>>> t = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
>>> ns_time(t, "r-1") == ns_time(t, "r-1"), ns_time(t, "r-1") // 1000 == int(t.timestamp()) * 1_000_000
(True, True)
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Final

# -- measurements --------------------------------------------------------------------------------
READING: Final = "reading"
"""One point per accepted reading (scored when the detector saw it)."""
NEWS2: Final = "news2"
"""The patient's NEWS2 after a reading that changed it."""
ALERT: Final = "alert"
"""One point per alert transition (raised, escalated, acknowledged, snoozed, resolved)."""
ACK: Final = "ack"
"""Audit trail of clinician acknowledgements and snoozes."""
PROFILE: Final = "profile"
"""Audit trail of patient profile changes (who set which SpO2 scale, when)."""
PIPELINE: Final = "pipeline"
"""Worker health: throughput, lag, dead letters, batch latency (wall-clock time)."""

# -- tags ----------------------------------------------------------------------------------------
TAG_PATIENT: Final = "patient_id"
TAG_METRIC: Final = "metric"
TAG_DEVICE: Final = "device_id"
TAG_KIND: Final = "kind"
TAG_SEVERITY: Final = "severity"
TAG_STATUS: Final = "status"
TAG_ACTION: Final = "action"
TAG_WORKER: Final = "worker_id"

# -- fields --------------------------------------------------------------------------------------
F_VALUE: Final = "value"
F_READING_ID: Final = "reading_id"
F_SCORE: Final = "score"
F_EXPECTED_LOW: Final = "expected_low"
F_EXPECTED_HIGH: Final = "expected_high"
F_WARM: Final = "warm"
F_QUALITY: Final = "quality"  # comma-separated flags, "" when clean
F_USABLE: Final = "usable"  # bool: no quality flag
F_SOURCE: Final = "source"
F_TOTAL: Final = "total"
F_BAND: Final = "band"
F_PARTIAL: Final = "partial"
F_SUBSCORE_PREFIX: Final = "sub_"  # news2 sub-scores: sub_respiration_rate, sub_spo2, ...
F_ALERT_ID: Final = "alert_id"
F_ALERT_METRIC: Final = "alert_metric"  # the metric an alert is about ("" for NEWS2/aggregate)
F_MESSAGE: Final = "message"
F_SEVERITY_LEVEL: Final = "severity_level"  # 0 info .. 3 high, for thresholds and max()
F_NEWS2_TOTAL: Final = "news2_total"
F_LATE: Final = "late"
F_ACK_URL: Final = "ack_url"
F_ACTOR: Final = "actor"
F_START: Final = "start_ms"
F_CLINICIAN: Final = "clinician_id"
F_SNOOZE_MINUTES: Final = "snooze_minutes"
F_NOTE: Final = "note"
F_SPO2_SCALE: Final = "spo2_scale"
F_CONDITIONS: Final = "conditions"  # comma-separated, "" when none
F_READINGS: Final = "readings"
F_REJECTED: Final = "rejected"
F_DEAD_LETTERS: Final = "dead_letters"
F_ALERTS: Final = "alerts"
F_READINGS_PER_S: Final = "readings_per_s"
F_BATCH_LATENCY_MS: Final = "batch_latency_ms"
F_CONSUMER_LAG: Final = "consumer_lag"
F_INFLUX_RETRIES: Final = "influx_retries"
F_ANNOTATIONS_DROPPED: Final = "annotations_dropped"
F_HEARTBEATS: Final = "heartbeats"
F_REFETCHES: Final = "refetches"

SCHEMA: Final[dict[str, dict[str, tuple[str, ...]]]] = {
    READING: {
        "tags": (TAG_PATIENT, TAG_METRIC, TAG_DEVICE),
        "fields": (
            F_VALUE,
            F_READING_ID,
            F_SCORE,
            F_EXPECTED_LOW,
            F_EXPECTED_HIGH,
            F_WARM,
            F_QUALITY,
            F_USABLE,
            F_SOURCE,
        ),
    },
    NEWS2: {
        "tags": (TAG_PATIENT,),
        "fields": (F_TOTAL, F_BAND, F_PARTIAL, F_SUBSCORE_PREFIX + "<parameter>"),
    },
    ALERT: {
        "tags": (TAG_PATIENT, TAG_KIND, TAG_SEVERITY, TAG_STATUS),
        "fields": (
            F_ALERT_ID,
            F_ALERT_METRIC,
            F_MESSAGE,
            F_SEVERITY_LEVEL,
            F_VALUE,
            F_EXPECTED_LOW,
            F_EXPECTED_HIGH,
            F_SCORE,
            F_NEWS2_TOTAL,
            F_LATE,
            F_ACK_URL,
            F_ACTOR,
            F_START,
        ),
    },
    ACK: {
        "tags": (TAG_PATIENT, TAG_ACTION),
        "fields": (F_ALERT_ID, F_CLINICIAN, F_SNOOZE_MINUTES, F_NOTE),
    },
    PROFILE: {
        "tags": (TAG_PATIENT,),
        "fields": (F_SPO2_SCALE, F_CONDITIONS, F_ACTOR),
    },
    PIPELINE: {
        "tags": (TAG_WORKER,),
        "fields": (
            F_READINGS,
            F_REJECTED,
            F_DEAD_LETTERS,
            F_ALERTS,
            F_READINGS_PER_S,
            F_BATCH_LATENCY_MS,
            F_CONSUMER_LAG,
            F_INFLUX_RETRIES,
            F_ANNOTATIONS_DROPPED,
            F_HEARTBEATS,
            F_REFETCHES,
        ),
    },
}
"""Measurement -> its tags and fields (documentation and tests check points against it)."""


def ns_time(time: datetime, record_id: str) -> int:
    """Deterministic nanosecond timestamp: event time (µs) plus a 0..999 ns offset from ``record_id``.

    >>> ns_time(datetime(2024, 1, 1, tzinfo=UTC), "abc") % 1000 == ns_time(datetime(2024, 1, 2, tzinfo=UTC),
    ...     "abc") % 1000
    True
    """
    t = time.astimezone(UTC)
    micros = (t - _EPOCH) // _MICROSECOND
    offset = int.from_bytes(hashlib.blake2b(record_id.encode(), digest_size=4).digest(), "big") % 1000
    return micros * 1000 + offset


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC) - _EPOCH
