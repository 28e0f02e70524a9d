"""NEWS2, the National Early Warning Score 2 (Royal College of Physicians, 2017).

:func:`score` applies the RCP chart to one set of observations; :class:`News2Tracker`
keeps each parameter's latest value so the stream can score the freshest set, and
:func:`to_signal` turns a score into an alert-policy :class:`~detectors.policy.Signal`.

Real values and the chart. The chart prints contiguous integer (or one-decimal) ranges;
each band here is a threshold on its printed *upper* bound: a value belongs to the first
band whose upper bound it does not exceed. So respiration rate 20.5 is above 20 and
scores 2 (21–24 band), temperature 38.05 is above 38.0 and scores 1, and systolic 90.4
scores 2 (91–100 band). Values are compared with a tolerance of 1e-6 so that floating-point
noise from unit conversion (38.000000000000004 °C) lands in the band the value names.

Parameters not given are not scored: they are listed in ``missing`` and the result is
``partial`` — its total is then a lower bound. On SpO2 scale 2 an SpO2 >= 93 % scores
only when the patient is known to be on oxygen; without ``on_oxygen`` it is scored as
on air and ``on_oxygen`` is listed as missing.

>>> s = score(respiration_rate=22, spo2=95, on_oxygen=False, systolic_bp=105, pulse=112,
...           consciousness="A", temperature=38.4)
>>> s.total, s.band.value, s.partial
(7, 'high', False)
>>> s.subscores["pulse"], s.subscores["respiration_rate"]
(2, 2)
>>> score(pulse=35).band.value, score(pulse=35).missing[:2]
('low-medium', ('respiration_rate', 'spo2'))
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from detectors.events import AlertKind, Severity
from detectors.policy import Level, Signal
from ingest.metrics import ACVPU, Metric
from ingest.reading import Quality, Reading

_EPS = 1e-6

PARAMETERS: tuple[str, ...] = (
    "respiration_rate",
    "spo2",
    "on_oxygen",
    "systolic_bp",
    "pulse",
    "consciousness",
    "temperature",
)
"""The NEWS2 parameters in chart order; the keys of ``News2Score.subscores``."""

METRIC_PARAMETER: dict[Metric, str] = {
    Metric.RESPIRATORY_RATE: "respiration_rate",
    Metric.SPO2: "spo2",
    Metric.SUPPLEMENTAL_OXYGEN: "on_oxygen",
    Metric.SYSTOLIC_BP: "systolic_bp",
    Metric.HEART_RATE: "pulse",
    Metric.CONSCIOUSNESS: "consciousness",
    Metric.BODY_TEMPERATURE: "temperature",
}
"""Which reading metric feeds which NEWS2 parameter."""

# (upper bound inclusive, points) in ascending order; the last band has no upper bound.
_RESPIRATION = ((8.0, 3), (11.0, 1), (20.0, 0), (24.0, 2), (math.inf, 3))
_SPO2_SCALE1 = ((91.0, 3), (93.0, 2), (95.0, 1), (math.inf, 0))
_SPO2_SCALE2_LOW = ((83.0, 3), (85.0, 2), (87.0, 1), (92.0, 0))  # then >= 93: depends on oxygen
_SPO2_SCALE2_ON_OXYGEN = ((94.0, 1), (96.0, 2), (math.inf, 3))
_SYSTOLIC = ((90.0, 3), (100.0, 2), (110.0, 1), (219.0, 0), (math.inf, 3))
_PULSE = ((40.0, 3), (50.0, 1), (90.0, 0), (110.0, 1), (130.0, 2), (math.inf, 3))
_TEMPERATURE = ((35.0, 3), (36.0, 1), (38.0, 0), (39.0, 1), (math.inf, 2))

_OXYGEN_POINTS = 2
_CONFUSED_POINTS = 3


class Band(StrEnum):
    """NEWS2 clinical risk band."""

    LOW = "low"
    LOW_MEDIUM = "low-medium"  # total 0-4 with a 3 in a single parameter
    MEDIUM = "medium"
    HIGH = "high"


@dataclass(frozen=True, slots=True)
class News2Score:
    """An aggregate NEWS2 score with its sub-scores (keyed by the parameter names given)."""

    total: int
    band: Band
    subscores: dict[str, int]
    missing: tuple[str, ...]

    @property
    def partial(self) -> bool:
        """True when a parameter was not available: the total is then a lower bound."""
        return bool(self.missing)

    def describe(self) -> str:
        """The sub-scores in words, highest first, e.g. ``'pulse 3, temperature 1'``."""
        parts = sorted(((p, v) for p, v in self.subscores.items() if v), key=lambda pv: (-pv[1], pv[0]))
        return ", ".join(f"{p.replace('_', ' ')} {v}" for p, v in parts) or "all parameters 0"


def _points(value: float, bands: tuple[tuple[float, int], ...]) -> int:
    for upper, points in bands:
        if value <= upper + _EPS:
            return points
    raise AssertionError("the last band is unbounded")  # pragma: no cover


def _finite(name: str, value: float) -> float:
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name}: must be a finite number, got {value!r}")
    return v


def _consciousness_points(value: str | int | float) -> int:
    if isinstance(value, str):
        code = value.strip().upper()
        if code not in ACVPU:
            raise ValueError(f"consciousness: must be one of A, C, V, P, U (or 0..4), got {value!r}")
        return 0 if code == "A" else _CONFUSED_POINTS
    if isinstance(value, bool) or value not in range(len(ACVPU)):
        raise ValueError(f"consciousness: must be one of A, C, V, P, U (or 0..4), got {value!r}")
    return 0 if value == ACVPU["A"] else _CONFUSED_POINTS


def spo2_points(spo2: float, *, scale: int = 1, on_oxygen: bool | None = None) -> int:
    """SpO2 sub-score on scale 1 or scale 2 (unknown oxygen on scale 2 is scored as air).

    >>> spo2_points(92), spo2_points(90, scale=2), spo2_points(97, scale=2, on_oxygen=True)
    (2, 0, 3)
    """
    value = _finite("spo2", spo2)
    if scale == 1:
        return _points(value, _SPO2_SCALE1)
    if scale != 2:
        raise ValueError(f"spo2_scale: must be 1 or 2, got {scale!r}")
    if value <= _SPO2_SCALE2_LOW[-1][0] + _EPS:
        return _points(value, _SPO2_SCALE2_LOW)
    return _points(value, _SPO2_SCALE2_ON_OXYGEN) if on_oxygen else 0


def band_for(total: int, max_subscore: int) -> Band:
    """The clinical risk band for an aggregate score and the highest single sub-score.

    >>> band_for(4, 3).value, band_for(5, 1).value, band_for(7, 0).value
    ('low-medium', 'medium', 'high')
    """
    if total >= 7:
        return Band.HIGH
    if total >= 5:
        return Band.MEDIUM
    return Band.LOW_MEDIUM if max_subscore >= 3 else Band.LOW


def score(
    *,
    respiration_rate: float | None = None,
    spo2: float | None = None,
    on_oxygen: bool | float | None = None,
    systolic_bp: float | None = None,
    pulse: float | None = None,
    consciousness: str | int | float | None = None,
    temperature: float | None = None,
    spo2_scale: int = 1,
) -> News2Score:
    """Score one set of observations on the RCP NEWS2 chart (see the module docstring).

    Raises ``ValueError`` naming the parameter for a non-finite value, an unknown ACVPU
    code or an SpO2 scale other than 1 or 2.
    """
    return _assemble(
        _subscores(
            respiration_rate=respiration_rate,
            spo2=spo2,
            on_oxygen=on_oxygen,
            systolic_bp=systolic_bp,
            pulse=pulse,
            consciousness=consciousness,
            temperature=temperature,
            spo2_scale=spo2_scale,
        )
    )


def _subscores(
    *,
    respiration_rate: float | None = None,
    spo2: float | None = None,
    on_oxygen: bool | float | None = None,
    systolic_bp: float | None = None,
    pulse: float | None = None,
    consciousness: str | int | float | None = None,
    temperature: float | None = None,
    spo2_scale: int = 1,
) -> dict[str, int]:
    """The sub-score of each parameter given, in chart order (see :func:`score`)."""
    sub: dict[str, int] = {}
    if respiration_rate is not None:
        sub["respiration_rate"] = _points(_finite("respiration_rate", respiration_rate), _RESPIRATION)
    oxygen = None if on_oxygen is None else bool(_finite("on_oxygen", float(on_oxygen)))
    if spo2 is not None:
        sub["spo2"] = spo2_points(spo2, scale=spo2_scale, on_oxygen=oxygen)
    elif spo2_scale not in (1, 2):
        raise ValueError(f"spo2_scale: must be 1 or 2, got {spo2_scale!r}")
    if oxygen is not None:
        sub["on_oxygen"] = _OXYGEN_POINTS if oxygen else 0
    if systolic_bp is not None:
        sub["systolic_bp"] = _points(_finite("systolic_bp", systolic_bp), _SYSTOLIC)
    if pulse is not None:
        sub["pulse"] = _points(_finite("pulse", pulse), _PULSE)
    if consciousness is not None:
        sub["consciousness"] = _consciousness_points(consciousness)
    if temperature is not None:
        sub["temperature"] = _points(_finite("temperature", temperature), _TEMPERATURE)
    return sub


def _assemble(sub: dict[str, int]) -> News2Score:
    """The total, band and missing parameters for a set of sub-scores."""
    total = sum(sub.values())
    missing = tuple(p for p in PARAMETERS if p not in sub)
    return News2Score(total, band_for(total, max(sub.values(), default=0)), sub, missing)


def clinically_usable(reading: Reading) -> bool:
    """True when a reading may drive clinical scoring: no quality flag other than ``late``.

    A late reading is still a valid measurement; the alert policy decides what late data may do.
    """
    return not reading.quality or reading.quality == {Quality.LATE}


class News2Tracker:
    """The latest usable value (and its event time) of each NEWS2 parameter of one patient.

    Compact: at most seven (value, epoch-seconds) pairs. An older reading never replaces a
    newer one, so late data does not roll the score back.

    >>> from datetime import UTC, datetime, timedelta
    >>> from ingest.reading import make_reading
    >>> t = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    >>> tr = News2Tracker()
    >>> tr.update(make_reading(patient_id="p1", device_id="d1", metric="heart_rate", value=135, time=t))
    >>> tr.current(t + timedelta(minutes=5), timedelta(hours=4)).subscores
    {'pulse': 3}
    >>> tr.current(t + timedelta(hours=5), timedelta(hours=4)) is None
    True
    """

    __slots__ = ("latest",)

    def __init__(self, latest: dict[str, tuple[float, float]] | None = None) -> None:
        self.latest: dict[str, tuple[float, float]] = latest or {}

    def update(self, reading: Reading) -> None:
        """Remember the reading if it is a usable NEWS2 parameter newer than the one held."""
        param = METRIC_PARAMETER.get(reading.metric)
        if param is None or not clinically_usable(reading):
            return
        self.observe(param, reading.value, reading.time.timestamp())

    def observe(self, param: str, value: float, ts: float) -> None:
        """Remember ``value`` of ``param`` measured at epoch second ``ts`` unless a newer one is held."""
        held = self.latest.get(param)
        if held is None or ts >= held[1]:
            self.latest[param] = (value, ts)

    def current(self, now: datetime, freshness: timedelta, spo2_scale: int = 1) -> News2Score | None:
        """Score the parameters measured within ``freshness`` before ``now`` (None if none is)."""
        verdict = self.verdict(now.timestamp(), freshness.total_seconds(), spo2_scale)
        return None if verdict is None else verdict.score

    def verdict(self, t: float, window: float, spo2_scale: int = 1) -> News2Verdict | None:
        """The score and its alert verdict for the parameters measured within ``window`` s before ``t``.

        Verdicts are memoised by their sub-scores (only a few hundred combinations occur), so
        a new heart rate that leaves every sub-score as it was costs no scoring or wording.
        The returned score is shared: do not mutate it.
        """
        fresh = {p: v for p, (v, ts) in self.latest.items() if t - ts <= window}
        if not fresh:
            return None
        sub = _subscores(spo2_scale=spo2_scale, **fresh)
        key = tuple(sub.items())
        verdict = _VERDICTS.get(key)
        if verdict is None:
            if len(_VERDICTS) >= _VERDICTS_MAX:
                _VERDICTS.clear()
            verdict = _VERDICTS[key] = _verdict(_assemble(sub))
        return verdict

    def to_dict(self) -> dict[str, list[float]]:
        return {p: [v, ts] for p, (v, ts) in self.latest.items()}

    @classmethod
    def from_dict(cls, d: dict[str, list[float]]) -> News2Tracker:
        return cls({p: (float(v), float(ts)) for p, (v, ts) in d.items()})


def to_signal(result: News2Score, time: datetime, *, late: bool = False) -> Signal:
    """The alert-policy signal for a NEWS2 score.

    ABNORMAL for the bands that need a response (high -> Severity.HIGH; medium and
    low-medium -> Severity.MEDIUM); BORDERLINE for a total of 3-4 (keeps an alert open);
    NORMAL otherwise.

    >>> from datetime import UTC, datetime
    >>> sig = to_signal(score(pulse=135, temperature=39.5), datetime(2024, 5, 1, tzinfo=UTC))
    >>> sig.level.value, sig.severity.label, sig.news2_subscores
    ('abnormal', 'medium', {'pulse': 3, 'temperature': 2})
    >>> sig.message.split(";")[0]
    'NEWS2 5 (medium risk): pulse 3, temperature 2'
    """
    return _verdict(result).signal(time, late=late)


@dataclass(frozen=True, slots=True)
class News2Verdict:
    """A NEWS2 score with what the alert policy makes of it (level, severity, message)."""

    score: News2Score
    level: Level
    severity: Severity
    message: str

    def signal(self, time: datetime, *, late: bool = False) -> Signal:
        """The alert-policy signal at ``time``."""
        total = self.score.total
        return Signal(
            kind=AlertKind.NEWS2,
            metric=None,
            time=time,
            level=self.level,
            severity=self.severity,
            message=self.message,
            value=float(total),
            news2_total=total,
            news2_subscores=dict(self.score.subscores),
            late=late,
        )


def _verdict(result: News2Score) -> News2Verdict:
    """Level, severity and message for a score (see :func:`to_signal`)."""
    if result.band is Band.HIGH:
        level, severity = Level.ABNORMAL, Severity.HIGH
    elif result.band in (Band.MEDIUM, Band.LOW_MEDIUM):
        level, severity = Level.ABNORMAL, Severity.MEDIUM
    else:
        level, severity = (Level.BORDERLINE if result.total >= 3 else Level.NORMAL), Severity.INFO
    message = f"NEWS2 {result.total} ({result.band.value} risk): {result.describe()}"
    if result.partial:
        missing = ", ".join(p.replace("_", " ") for p in result.missing)
        message += f"; partial: {missing} not measured recently"
    return News2Verdict(result, level, severity, message)


_VERDICTS: dict[tuple[tuple[str, int], ...], News2Verdict] = {}
"""Memo of :meth:`News2Tracker.verdict` by sub-scores (and so by SpO2 scale as well)."""
_VERDICTS_MAX = 8192
