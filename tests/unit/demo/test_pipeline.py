"""The embedded pipeline: event-time ticks (shared or per patient), duplicates, Kafka and InfluxDB outputs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console

from detectors.cohort import CohortMonitor
from detectors.events import AlertEvent
from detectors.monitor import MonitorConfig, PatientMonitor
from ingest.producer import MemorySink
from ingest.reading import Reading, make_reading
from streams.influx_sink import InfluxSink
from vigil.demo import DemoOptions, send_demo_to_kafka
from vigil.influx_results import InfluxResults
from vigil.runner import CsvSink, Pipeline, TickClock
from vigil.settings import Settings

T0 = datetime(2024, 1, 1, tzinfo=UTC)


class _Ticks(CohortMonitor):
    """A cohort monitor that records every tick it gets."""

    def __init__(self) -> None:
        super().__init__(PatientMonitor(MonitorConfig()))
        self.ticks: list[datetime] = []

    def tick(self, now: datetime) -> list[AlertEvent]:
        self.ticks.append(now)
        return super().tick(now)


def _hr(patient: str, minutes: float, value: float = 70) -> Reading:
    return make_reading(patient_id=patient, device_id="w", metric="heart_rate", value=value,
                        time=T0 + timedelta(minutes=minutes), received=T0)  # fmt: skip


def test_tick_clock_fires_on_epoch_aligned_boundaries() -> None:
    clock = TickClock(timedelta(minutes=5))
    due = [clock.due(T0 + timedelta(minutes=m)) for m in (1, 3, 6, 7, 21, 2)]
    assert due == [None, None, T0 + timedelta(minutes=5), None, T0 + timedelta(minutes=20), None]
    assert clock.latest == T0 + timedelta(minutes=21)


def test_shared_clock_ticks_the_cohort_and_finishes_with_a_last_tick(tmp_path: Path) -> None:
    cohort = _Ticks()
    pipeline = Pipeline(cohort, CsvSink(tmp_path), tick_every=timedelta(minutes=10))
    for m in (0, 4, 12, 13, 25):
        pipeline.process(_hr("p1", m))
    summary = pipeline.finish()
    assert cohort.ticks == [
        T0 + timedelta(minutes=10),
        T0 + timedelta(minutes=20),
        T0 + timedelta(minutes=25),
    ]
    assert summary.readings == 5 and summary.patients == {"p1"}


def test_per_patient_clocks_do_not_tick_the_whole_cohort(tmp_path: Path) -> None:
    cohort = _Ticks()
    pipeline = Pipeline(cohort, CsvSink(tmp_path), tick_every=timedelta(minutes=10), per_patient_clock=True)
    for pid in ("a", "b"):  # grouped by patient, each starting at the same event time
        for m in range(0, 60, 5):
            pipeline.process(_hr(pid, m))
    pipeline.finish()
    assert cohort.ticks == []  # never a cohort-wide tick: b's time line is not a's


def test_duplicates_are_counted_not_scored(tmp_path: Path) -> None:
    pipeline = Pipeline(CohortMonitor(PatientMonitor()), CsvSink(tmp_path))
    r = _hr("p1", 0)
    assert pipeline.process(r).scored is not None
    assert pipeline.process(r).scored is None
    summary = pipeline.finish()
    assert (summary.scored, summary.duplicates) == (1, 1)
    assert len((tmp_path / "scores.csv").read_text().splitlines()) == 2


def test_kafka_mode_sends_every_simulated_reading(tmp_path: Path) -> None:
    sink = MemorySink()
    sent = send_demo_to_kafka(
        DemoOptions(out=tmp_path, patients=2, days=0.1, seed=1), sink, Console(quiet=True)
    )
    assert sent == len(sink.readings) > 0
    assert [p.patient_id for p in sink.profiles] == sorted({r.patient_id for r in sink.readings})
    assert (tmp_path / "episodes.jsonl").exists()


def test_influx_results_write_reading_news2_and_alert_points(tmp_path: Path) -> None:
    bodies: list[bytes] = []

    async def post(body: bytes) -> None:
        bodies.append(body)

    settings = Settings(influx={"batch_size": 3})
    results = InfluxResults(settings, sink=InfluxSink(settings.influx, post=post))
    pipeline = Pipeline(CohortMonitor(PatientMonitor()), CsvSink(tmp_path), [results])
    for m, v in enumerate([39.6, 39.7, 39.8]):  # a fever: hard-limit alert after persistence
        pipeline.process(make_reading(patient_id="p1", device_id="t", metric="temperature", value=v,
                                      time=T0 + timedelta(minutes=10 * m), received=T0))  # fmt: skip
    pipeline.finish()
    results.close()
    lines = b"\n".join(bodies).decode().splitlines()
    measurements = {line.split(",", 1)[0] for line in lines}
    assert {"reading", "alert"} <= measurements
    assert sum(line.startswith("reading,") for line in lines) == 3
    assert results.points_written == len(lines)
