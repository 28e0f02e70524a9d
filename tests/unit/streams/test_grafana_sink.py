"""Contract test: the annotation sink against a loopback server that checks Grafana's published request shape
(see :mod:`tests.unit.streams.grafana_like`), plus the non-blocking queue."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from detectors.events import AlertEvent, AlertKind, AlertStatus, Severity
from streams.grafana_sink import AnnotationSink, grafana_poster
from tests.unit.streams.grafana_like import TOKEN, GrafanaAnnotation, grafana_like_server
from vigil.settings import GrafanaSettings

T0 = datetime(2024, 5, 1, 8, tzinfo=UTC)


@pytest.fixture
def grafana_server() -> Iterator[tuple[str, list[GrafanaAnnotation]]]:
    with grafana_like_server(fail_first=1) as server:
        yield server


def event(status: AlertStatus, alert_id: str = "al-1", end: datetime | None = None) -> AlertEvent:
    return AlertEvent(
        alert_id,
        "p-7",
        AlertKind.NEWS2,
        status,
        Severity.HIGH,
        T0 + timedelta(minutes=5),
        T0,
        "NEWS2 7 (high)",
        news2_total=7,
        end=end,
    )


async def test_annotations_match_grafanas_request_shape(grafana_server) -> None:
    url, received = grafana_server
    settings = GrafanaSettings(
        url=url, token=TOKEN, patient_dashboard_uid="vigil-patient", ack_base_url="https://vigil.example"
    )
    sink = AnnotationSink(settings, grafana_poster(settings), backoff_start_s=0.01)
    sink.start()
    sink.offer(event(AlertStatus.RAISED))
    sink.offer(event(AlertStatus.ACKNOWLEDGED))  # not annotated
    sink.offer(event(AlertStatus.RESOLVED, end=T0 + timedelta(minutes=30)))
    await asyncio.wait_for(sink.drained(), 20)
    await sink.stop()
    assert (sink.posted, sink.failed) == (2, 0)  # the first call got a 503 and was retried
    raised, resolved = received
    assert raised.dashboardUID == "vigil-patient"
    assert raised.time == int((T0 + timedelta(minutes=5)).timestamp() * 1000) and raised.timeEnd is None
    assert {"patient:p-7", "severity:high", "kind:news2", "status:raised"} <= set(raised.tags)
    assert "al-1" in raised.text and "https://vigil.example/v1/alerts/al-1/ack" in raised.text
    assert (resolved.time, resolved.timeEnd) == (
        int(T0.timestamp() * 1000),
        int((T0 + timedelta(minutes=30)).timestamp() * 1000),
    )


async def test_a_client_error_is_not_retried_and_never_blocks(grafana_server) -> None:
    url, received = grafana_server
    settings = GrafanaSettings(url=url, token="wrong-token")
    sink = AnnotationSink(settings, grafana_poster(settings), backoff_start_s=0.01)
    sink.start()
    sink.offer(event(AlertStatus.RAISED))
    sink.offer(event(AlertStatus.ESCALATED))
    await asyncio.wait_for(sink.drained(), 20)
    await sink.stop()
    assert (sink.posted, sink.failed, received) == (0, 2, [])


async def test_full_queue_drops_the_oldest_and_counts() -> None:
    posted: list[str] = []
    gate = asyncio.Event()

    async def post(kwargs: dict[str, object]) -> None:
        await gate.wait()
        posted.append(str(kwargs["text"]))

    sink = AnnotationSink(GrafanaSettings(), post, maxsize=2)
    sink.start()
    for i in range(5):
        sink.offer(event(AlertStatus.RAISED, alert_id=f"al-{i}"))  # never blocks
    gate.set()
    await asyncio.wait_for(sink.drained(), 5)
    await sink.stop()
    # offers run before the poster task gets the loop: al-0..al-2 were dropped for al-3, al-4
    assert sink.dropped == 3
    assert [t.split("(alert ")[1].split(";")[0] for t in posted] == ["al-3", "al-4"]
