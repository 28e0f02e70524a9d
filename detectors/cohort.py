"""Many patients in one process: a dict of :class:`PatientState` driven by the one :class:`PatientMonitor`.

For the embedded demo, replay and evaluation. The stream worker keeps the same
states in a Faust table instead; both call the same ``PatientMonitor`` methods.

>>> from datetime import UTC, datetime
>>> from ingest.reading import make_reading
>>> cohort = CohortMonitor(PatientMonitor())
>>> def temp(value, minute):
...     return make_reading(patient_id="p9", device_id="t1", metric="temperature", value=value,
...                         time=datetime(2025, 1, 6, 8, minute, tzinfo=UTC))
>>> cohort.process(temp(39.4, 0)).events  # one reading is not yet persistent
[]
>>> [e.kind.value for e in cohort.process(temp(39.5, 5)).events]
['hard_limit']
>>> cohort.process(temp(39.5, 5)).scored is None  # a duplicate changes nothing
True
>>> len(cohort), cohort.state_bytes("p9")[:6]
(1, b'{"p":"')
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from detectors.events import Acknowledgement, AlertEvent
from detectors.monitor import MonitorOutput, PatientMonitor, PatientState
from ingest.episodes import PatientProfile
from ingest.reading import Reading


class CohortMonitor:
    """In-memory per-patient states; unknown patients get a default profile (SpO2 scale 1)."""

    __slots__ = ("monitor", "profiles", "states")

    def __init__(self, monitor: PatientMonitor, profiles: Iterable[PatientProfile] = ()) -> None:
        self.monitor = monitor
        self.profiles = {p.patient_id: p for p in profiles}
        self.states: dict[str, PatientState] = {}

    def __len__(self) -> int:
        return len(self.states)

    def state(self, patient_id: str) -> PatientState:
        """The patient's state, created from their profile on first use."""
        state = self.states.get(patient_id)
        if state is None:
            profile = self.profiles.get(patient_id) or PatientProfile(patient_id=patient_id)
            state = self.states[patient_id] = self.monitor.new_state(profile)
        return state

    def process(self, reading: Reading) -> MonitorOutput:
        return self.monitor.process(self.state(reading.patient_id), reading)

    def tick(self, now: datetime) -> list[AlertEvent]:
        """Advance event time for every patient."""
        events: list[AlertEvent] = []
        for state in self.states.values():
            events += self.monitor.tick(state, now)
        return events

    def acknowledge(self, ack: Acknowledgement) -> list[AlertEvent]:
        state = self.states.get(ack.patient_id)
        return [] if state is None else self.monitor.acknowledge(state, ack)

    def state_bytes(self, patient_id: str) -> bytes:
        """The serialised state of one patient (what the stream worker stores)."""
        return self.state(patient_id).to_bytes()
