"""The InfluxDB writer: chunking, retries until success, permanent rejections surfaced with the lines."""

from __future__ import annotations

import pytest
from influxdb_client.rest import ApiException

from streams.influx_sink import InfluxRejected, InfluxSink
from vigil.settings import InfluxSettings


class FlakyInflux:
    """Refuses the first ``failures`` posts with ``error``, then stores lines."""

    def __init__(self, failures: int, error: Exception) -> None:
        self.failures = failures
        self.error = error
        self.bodies: list[bytes] = []
        self.calls = 0

    async def post(self, body: bytes) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        self.bodies.append(body)


async def no_sleep(_: float) -> None:
    return None


LINES = [f"reading,patient_id=p-{i} value={i} {1_700_000_000_000_000_000 + i}" for i in range(7)]


async def test_batches_are_chunked_and_all_lines_arrive() -> None:
    influx = FlakyInflux(0, RuntimeError())
    sink = await InfluxSink(InfluxSettings(batch_size=3), post=influx.post, sleep=no_sleep).connect()
    await sink.write(LINES)
    assert [b.count(b"\n") + 1 for b in influx.bodies] == [3, 3, 1]
    assert b"\n".join(influx.bodies).decode().split("\n") == LINES
    assert sink.points_written == 7


@pytest.mark.parametrize("error", [ConnectionRefusedError(), TimeoutError(), ApiException(status=503)])
async def test_transient_failures_are_retried_beyond_max_retries_until_stored(error: Exception) -> None:
    influx = FlakyInflux(12, error)
    sink = await InfluxSink(InfluxSettings(max_retries=3), post=influx.post, sleep=no_sleep).connect()
    await sink.write(LINES)
    assert sink.retries == 12 and len(influx.bodies) == 1


async def test_a_bad_request_raises_with_the_lines_for_the_dead_letter_topic() -> None:
    influx = FlakyInflux(1, ApiException(status=400, reason="partial write: field type conflict"))
    sink = await InfluxSink(InfluxSettings(), post=influx.post, sleep=no_sleep).connect()
    with pytest.raises(InfluxRejected) as info:
        await sink.write(LINES[:2])
    assert info.value.status == 400 and info.value.lines.decode().split("\n") == LINES[:2]
    assert "field type conflict" in info.value.reason
