"""The hot-path line protocol builders write exactly what influxdb-client's ``Point`` writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.events import ScoredReading
from detectors.news2 import Band, News2Score
from ingest.reading import Quality, Reading, Source
from streams.points import news2_line, news2_point, reading_line, reading_point
from streams.schema import ns_time

ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,20}", fullmatch=True)
floats = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True), st.integers(-5, 300).map(float))
times = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
) | st.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(2099, 1, 1)).map(
    lambda t: t.replace(tzinfo=UTC) + timedelta(microseconds=1)
)


@st.composite
def readings(draw: st.DrawFn) -> Reading:
    return Reading(
        reading_id=draw(st.text(min_size=8, max_size=40)),  # quotes, backslashes, anything
        patient_id=draw(ids),
        device_id=draw(ids),
        metric=draw(st.sampled_from(["heart_rate", "spo2", "steps", "sleep_duration"])),
        value=draw(st.floats(allow_nan=False, allow_infinity=False, width=64)),
        unit="1",
        time=draw(times),
        received=draw(times),
        source=draw(st.sampled_from(list(Source))),
        quality=frozenset(draw(st.lists(st.sampled_from(list(Quality)), max_size=3))),
    )


@settings(max_examples=300, deadline=None)
@given(readings(), floats, floats, floats, st.booleans(), st.booleans())
def test_reading_line_equals_point(
    r: Reading, score: float | None, low: float | None, high: float | None, warm: bool, with_score: bool
) -> None:
    scored = ScoredReading(r, score if score is not None else 0.0, low, high, warm) if with_score else None
    expected = reading_point(r, scored).to_line_protocol()
    assert reading_line(r, scored) == expected
    assert reading_line(r, scored, ns_time(r.time, r.reading_id)) == expected


@settings(max_examples=200, deadline=None)
@given(
    ids,
    times,
    st.text(min_size=1, max_size=20),
    st.dictionaries(
        st.sampled_from(["respiration_rate", "spo2", "on_oxygen", "systolic_bp", "pulse", "temperature"]),
        st.integers(0, 3),
    ),
    st.sampled_from(list(Band)),
    st.lists(st.sampled_from(["consciousness", "spo2"]), max_size=2, unique=True),
)
def test_news2_line_equals_point(
    patient: str, t: datetime, record_id: str, subscores: dict[str, int], band: Band, missing: list[str]
) -> None:
    n = News2Score(total=sum(subscores.values()), band=band, subscores=subscores, missing=tuple(missing))
    expected = news2_point(patient, t, record_id, n).to_line_protocol()
    assert news2_line(patient, t, record_id, n) == expected
    assert news2_line(patient, t, record_id, n, ns_time(t, record_id)) == expected
