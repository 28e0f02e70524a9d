"""The metric catalogue: what Vigil measures, in which unit, and what is plausible.

Each metric has its LOINC code(s) (and IEEE 11073 MDC codes where devices send
them), a canonical UCUM unit, the accepted units with their conversion to the
canonical one, and two ranges:

``limits``
    Physically impossible outside this range (SpO2 above 100 %, a negative
    step count). Such a reading is **rejected** with the reason and sent to the
    dead-letter topic.
``plausible``
    Physiologically implausible for a living patient outside this range, yet a
    device can produce it (a probe-off heart rate of 0, a motion spike of 250).
    Such a reading is **kept with the quality flag** ``implausible``: it is stored
    so the care team and the data-quality detectors see it, but it never teaches a
    baseline or enters NEWS2.

>>> spec = CATALOGUE[Metric.BODY_TEMPERATURE]
>>> round(spec.to_canonical(98.6, "[degF]"), 1)
37.0
>>> metric_for_code("8867-4")
<Metric.HEART_RATE: 'heart_rate'>
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum


class Metric(StrEnum):
    """Canonical metric names used on every topic and in InfluxDB."""

    HEART_RATE = "heart_rate"
    RESPIRATORY_RATE = "respiratory_rate"
    SPO2 = "spo2"
    SYSTOLIC_BP = "systolic_bp"
    DIASTOLIC_BP = "diastolic_bp"
    BODY_TEMPERATURE = "body_temperature"
    BLOOD_GLUCOSE = "blood_glucose"
    BODY_WEIGHT = "body_weight"
    STEPS = "steps"
    SLEEP_DURATION = "sleep_duration"
    HRV_RMSSD = "hrv_rmssd"
    ACTIVITY_MINUTES = "activity_minutes"
    CONSCIOUSNESS = "consciousness"
    SUPPLEMENTAL_OXYGEN = "supplemental_oxygen"


ACVPU: dict[str, int] = {"A": 0, "C": 1, "V": 2, "P": 3, "U": 4}
"""Consciousness (ACVPU) coded as a number: Alert, new Confusion, Voice, Pain, Unresponsive."""


def _linear(factor: float, offset: float = 0.0) -> Callable[[float], float]:
    return lambda x: x * factor + offset


def _identity(x: float) -> float:
    return x


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """How one metric is coded, measured and checked."""

    metric: Metric
    display: str
    loinc: tuple[str, ...]
    unit: str
    units: Mapping[str, Callable[[float], float]]
    limits: tuple[float, float]
    plausible: tuple[float, float]
    mdc: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    integer: bool = False
    news2: bool = False

    def to_canonical(self, value: float, unit: str | None) -> float:
        """Convert ``value`` from ``unit`` (None or empty: already canonical) to the canonical unit.

        Raises ``ValueError`` naming the unit and the accepted ones.
        """
        if unit is None or unit == "" or unit == self.unit:
            return float(value)
        convert = self.units.get(unit)
        if convert is None:
            accepted = ", ".join([self.unit, *(u for u in self.units if u != self.unit)])
            raise ValueError(f"unit {unit!r} is not accepted for {self.metric.value} (accepted: {accepted})")
        return float(convert(value))


_BPM = {"/min": _identity, "{beats}/min": _identity, "bpm": _identity, "1/min": _identity}
_BREATHS = {"/min": _identity, "{breaths}/min": _identity, "1/min": _identity}
_MMHG = {"mm[Hg]": _identity, "mmHg": _identity, "kPa": _linear(7.50062)}

_SPECS: tuple[MetricSpec, ...] = (
    MetricSpec(
        Metric.HEART_RATE,
        "Heart rate",
        ("8867-4",),
        "/min",
        _BPM,
        limits=(0, 400),
        plausible=(20, 250),
        mdc=(
            "147842",
            "149530",
            "149546",
            "MDC_ECG_HEART_RATE",
            "MDC_PULS_OXIM_PULS_RATE",
            "MDC_PULS_RATE_NON_INV",
        ),
        aliases=("pulse", "hr", "heart-rate"),
        news2=True,
    ),
    MetricSpec(
        Metric.RESPIRATORY_RATE,
        "Respiratory rate",
        ("9279-1",),
        "/min",
        _BREATHS,
        limits=(0, 150),
        plausible=(3, 70),
        mdc=("151562", "MDC_RESP_RATE"),
        aliases=("rr", "respiration_rate"),
        news2=True,
    ),
    MetricSpec(
        Metric.SPO2,
        "Oxygen saturation",
        ("59408-5", "2708-6", "20564-1"),
        "%",
        {"%": _identity, "1": _linear(100.0)},
        limits=(0, 100),
        plausible=(50, 100),
        mdc=("150456", "MDC_PULS_OXIM_SAT_O2"),
        aliases=("oxygen_saturation", "o2sat"),
        news2=True,
    ),
    MetricSpec(
        Metric.SYSTOLIC_BP,
        "Systolic blood pressure",
        ("8480-6",),
        "mm[Hg]",
        _MMHG,
        limits=(0, 350),
        plausible=(50, 280),
        mdc=("150021", "MDC_PRESS_BLD_NONINV_SYS"),
        aliases=("sbp",),
        news2=True,
    ),
    MetricSpec(
        Metric.DIASTOLIC_BP,
        "Diastolic blood pressure",
        ("8462-4",),
        "mm[Hg]",
        _MMHG,
        limits=(0, 250),
        plausible=(20, 180),
        mdc=("150022", "MDC_PRESS_BLD_NONINV_DIA"),
        aliases=("dbp",),
    ),
    MetricSpec(
        Metric.BODY_TEMPERATURE,
        "Body temperature",
        ("8310-5", "8331-1", "8328-7"),
        "Cel",
        {
            "Cel": _identity,
            "[degF]": lambda f: (f - 32.0) * 5.0 / 9.0,
            "degC": _identity,
            "C": _identity,
            "degF": lambda f: (f - 32.0) * 5.0 / 9.0,
            "K": _linear(1.0, -273.15),
        },
        limits=(15, 47),
        plausible=(30, 43),
        mdc=("150364", "MDC_TEMP_BODY"),
        aliases=("temperature", "temp"),
        news2=True,
    ),
    MetricSpec(
        Metric.BLOOD_GLUCOSE,
        "Glucose in capillary blood",
        ("2339-0", "15074-8", "41653-7", "14743-9"),
        "mmol/L",
        {"mmol/L": _identity, "mg/dL": _linear(1.0 / 18.0)},
        limits=(0, 60),
        plausible=(1.0, 40),
        mdc=("160184", "MDC_CONC_GLU_CAPILLARY_WHOLEBLOOD"),
        aliases=("glucose",),
    ),
    MetricSpec(
        Metric.BODY_WEIGHT,
        "Body weight",
        ("29463-7", "3141-9"),
        "kg",
        {"kg": _identity, "[lb_av]": _linear(0.45359237), "lb": _linear(0.45359237), "g": _linear(0.001)},
        limits=(0.2, 650),
        plausible=(20, 350),
        mdc=("188736", "MDC_MASS_BODY_ACTUAL"),
        aliases=("weight",),
    ),
    MetricSpec(
        Metric.STEPS,
        "Steps",
        ("55423-8", "41950-7"),
        "{steps}",
        {"{steps}": _identity, "{steps}/d": _identity, "1": _identity, "/d": _identity},
        limits=(0, 200_000),
        plausible=(0, 100_000),
        aliases=("step_count",),
        integer=True,
    ),
    MetricSpec(
        Metric.SLEEP_DURATION,
        "Sleep duration",
        ("93832-4",),
        "h",
        {"h": _identity, "min": _linear(1 / 60), "s": _linear(1 / 3600)},
        limits=(0, 24),
        plausible=(0, 20),
        aliases=("sleep",),
    ),
    MetricSpec(
        Metric.HRV_RMSSD,
        "Heart rate variability (RMSSD)",
        ("80404-7",),
        "ms",
        {"ms": _identity, "s": _linear(1000.0)},
        limits=(0, 2000),
        plausible=(2, 300),
        aliases=("hrv", "rmssd"),
    ),
    MetricSpec(
        Metric.ACTIVITY_MINUTES,
        "Activity minutes",
        ("55411-3",),
        "min",
        {"min": _identity, "h": _linear(60.0), "s": _linear(1 / 60)},
        limits=(0, 1440),
        plausible=(0, 1000),
        aliases=("active_minutes", "exercise_minutes"),
    ),
    MetricSpec(
        Metric.CONSCIOUSNESS,
        "Level of consciousness (ACVPU)",
        ("67775-7", "80288-4"),
        "{ACVPU}",
        {"{ACVPU}": _identity, "{score}": _identity},
        limits=(0, 4),
        plausible=(0, 4),
        aliases=("acvpu", "avpu"),
        integer=True,
        news2=True,
    ),
    MetricSpec(
        Metric.SUPPLEMENTAL_OXYGEN,
        "Supplemental oxygen (1 = on oxygen)",
        ("3150-0", "3151-8"),
        "{bool}",
        {"{bool}": _identity, "1": _identity},
        limits=(0, 1),
        plausible=(0, 1),
        aliases=("on_oxygen", "oxygen"),
        integer=True,
        news2=True,
    ),
)

CATALOGUE: dict[Metric, MetricSpec] = {s.metric: s for s in _SPECS}
"""Every metric's spec, keyed by metric."""

BLOOD_PRESSURE_PANEL_LOINC = ("85354-9", "55284-4", "35094-2")
"""Panel codes whose components carry systolic and diastolic pressure."""

_BY_CODE: dict[str, Metric] = {}
for _spec in _SPECS:
    for _code in (*_spec.loinc, *_spec.mdc, _spec.metric.value, *_spec.aliases):
        _BY_CODE[_code.lower()] = _spec.metric


def metric_for_code(code: str) -> Metric | None:
    """Find the metric for a LOINC code, IEEE 11073 MDC code, canonical name or alias."""
    return _BY_CODE.get(code.strip().lower())
