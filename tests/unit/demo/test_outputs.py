"""alerts.csv folds transitions into one row per alert; scores.csv and rejected.csv rows."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

from detectors.events import AlertEvent, AlertStatus, ScoredReading, Severity
from vigil.outputs import ALERTS_COLUMNS, SCORES_COLUMNS, AlertsWriter, RejectedWriter, ScoresWriter


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_one_alert_row_per_alert_with_end_and_max_severity(
    make_transition: Callable[..., AlertEvent],
) -> None:
    transition = make_transition
    buf = io.StringIO()
    w = AlertsWriter(buf)
    w.write_events([transition("p2", AlertStatus.RAISED, 0)])
    w.write_events(
        [
            transition("p1", AlertStatus.RAISED, 10, start_minutes=10),
            transition("p2", AlertStatus.ESCALATED, 30, severity=Severity.HIGH),
            transition("p2", AlertStatus.ACKNOWLEDGED, 35, severity=Severity.HIGH, actor="dr-a"),
            transition("p2", AlertStatus.RESOLVED, 60, severity=Severity.HIGH),
        ]
    )
    w.close()
    rows = _rows(buf.getvalue())
    assert tuple(rows[0]) == ALERTS_COLUMNS
    assert [(r["patient_id"], r["status"]) for r in rows] == [("p1", "active"), ("p2", "resolved")]
    p1, p2 = rows
    assert p1["end"] == ""
    assert (p2["start"], p2["end"]) == ("2024-03-01T08:00:00Z", "2024-03-01T09:00:00Z")
    assert (p2["severity"], p2["max_severity"], p2["escalations"]) == ("medium", "high", "1")
    assert p2["acknowledged_by"] == "dr-a"


def test_scores_rows_are_canonical_with_score_and_band(make_scored: Callable[..., ScoredReading]) -> None:
    scored = make_scored
    buf = io.StringIO()
    w = ScoresWriter(buf)
    w.write(scored("p1", "heart_rate", 71.5, 0, score=0.25), news2_total=3)
    w.write(scored("p1", "spo2", 97, 5), news2_total=None)
    w.close()
    rows = _rows(buf.getvalue())
    assert tuple(rows[0]) == SCORES_COLUMNS
    assert w.rows_written == 2
    hr, spo2 = rows
    assert (hr["metric"], hr["value"], hr["unit"], hr["score"]) == ("heart_rate", "71.5", "/min", "0.2500")
    assert (hr["expected_low"], hr["expected_high"], hr["news2"]) == ("66.5", "76.5", "3")
    assert spo2["news2"] == "" and spo2["timestamp"] == "2024-03-01T08:05:00Z"


def test_scores_are_written_in_batches_beyond_the_batch_size(
    make_scored: Callable[..., ScoredReading],
) -> None:
    scored = make_scored
    buf = io.StringIO()
    w = ScoresWriter(buf)
    for i in range(12_001):
        w.write(scored("p1", "heart_rate", 70, i), news2_total=None)
    assert w.rows_written == 10_000  # two full batches flushed, the rest buffered
    w.close()
    assert len(_rows(buf.getvalue())) == 12_001


def test_scores_rows_are_what_csv_writer_writes_also_for_ids_that_need_quoting(
    make_scored: Callable[..., ScoredReading],
) -> None:
    plain = [make_scored("p1", "heart_rate", 70 + i, i) for i in range(2)]
    odd = [
        s.reading.model_copy(update={"reading_id": rid})
        for s, rid in zip(plain, ('a,b,"c"', "line\nbreak"), strict=True)
    ]
    rows = [
        plain[0],
        ScoredReading(odd[0], 0.5, None, None, False),
        plain[1],
        ScoredReading(odd[1], 0.5, 1, 2, True),
    ]
    buf = io.StringIO()
    w = ScoresWriter(buf)
    for i, r in enumerate(rows):
        w.write(r, news2_total=i if i % 2 else None)
    w.close()

    expected = io.StringIO()
    reference = csv.writer(expected, lineterminator="\n")
    reference.writerow(SCORES_COLUMNS)
    for i, r in enumerate(rows):
        x = r.reading
        reference.writerow(
            [x.patient_id, x.metric.value, x.time.isoformat().replace("+00:00", "Z"), f"{x.value:.6g}",
             x.unit, f"{r.score:.4f}", "" if r.expected_low is None else f"{r.expected_low:.5g}",
             "" if r.expected_high is None else f"{r.expected_high:.5g}", int(r.warm), i if i % 2 else "", "",
             x.device_id, x.reading_id]
        )  # fmt: skip
    assert buf.getvalue() == expected.getvalue()
    assert [row["reading_id"] for row in _rows(buf.getvalue())][1::2] == ['a,b,"c"', "line\nbreak"]
    assert w.rows_written == 4


def test_rejected_rows_keep_location_reason_and_raw() -> None:
    buf = io.StringIO()
    w = RejectedWriter(buf)
    w.write("in.csv:3", "value: must be a number, got str", b"p1,hr,abc\n")
    w.close()
    assert _rows(buf.getvalue()) == [
        {"location": "in.csv:3", "reason": "value: must be a number, got str", "raw": "p1,hr,abc"}
    ]
