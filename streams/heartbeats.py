"""Event-time heartbeats: event time moves on for a readings partition that has gone quiet.

Data gaps, escalations of unacknowledged alerts, snoozes and resolves are decided at event-time
ticks (:mod:`streams.detect`), and a partition's event time (its watermark) moves only with the
records on it. On a partition no reading reaches — the only patient on it has a dead oximeter —
nothing would be ticked: no data-gap alert, no escalation. So the worker that owns a readings
partition puts a *heartbeat* record on it once it has been silent for ``worker.heartbeat_after_s``
(wall clock). Its event time is the partition's watermark plus the wall-clock time since that
watermark last moved (kept in the table too, so silence through a worker outage counts). The
heartbeat goes through the log like a reading: a replay after a crash makes the same decisions.

A heartbeat moves only the partition's watermark (and so its ticks); lateness is judged per
patient from the patient's own readings (``detectors.monitor``), so a reading uploaded hours after
it was taken is no "later" for a heartbeat than for another patient's readings on a busy
partition. Other consumers of the readings topic skip records with the :data:`HEADER` header.

>>> from datetime import UTC
>>> clock = SilenceClock(after_s=60.0, now=lambda: 1_000.0)
>>> t0 = datetime(2025, 1, 6, 8, tzinfo=UTC)
>>> clock.due([0], lambda p: (t0, 900.0))[0].time.isoformat()
'2025-01-06T08:01:40+00:00'
>>> clock.due([0], lambda p: (t0, 900.0))   # just sent: silent again only after another minute
{}
>>> decode_heartbeat(Heartbeat(t0).record()[1]) == Heartbeat(t0)
True
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson

from streams.codecs import Undecodable

HEADER = "vigil-heartbeat"
"""Header that marks a heartbeat record on the readings topic (value ``b"1"``)."""
KEY = b"~heartbeat"

Anchor = tuple[datetime | None, float | None]
"""A partition's watermark and the wall-clock time (epoch s) it last moved; None when not known."""


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """The partition's event time is at least ``time``."""

    time: datetime

    def record(self) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
        """Key, value and headers of the heartbeat's record."""
        return KEY, orjson.dumps({"heartbeat": self.time.isoformat()}), [(HEADER, b"1")]


def is_heartbeat(headers: Mapping[str, bytes] | None) -> bool:
    """Whether a record with these headers is a heartbeat."""
    return headers is not None and HEADER in headers


def decode_heartbeat(value: bytes | None) -> Heartbeat:
    """A heartbeat from its record value.

    >>> decode_heartbeat(b'{"heartbeat": "soon"}')
    Traceback (most recent call last):
    ...
    streams.codecs.Undecodable: heartbeat: not an ISO 8601 time with a UTC offset
    """
    try:
        t = datetime.fromisoformat(orjson.loads(value or b"")["heartbeat"])
        if t.tzinfo is None:
            raise ValueError("no UTC offset")
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise Undecodable("heartbeat", "not an ISO 8601 time with a UTC offset") from exc
    return Heartbeat(t)


class SilenceClock:
    """How long each readings partition has been silent, and the heartbeats that are due.

    Per partition it keeps an *anchor*: the watermark and the wall-clock time it last moved
    (:meth:`moved` after each batch; the table's for a partition seen the first time).
    """

    def __init__(self, after_s: float, now: Callable[[], float] = time.time) -> None:
        self.after_s = after_s
        self._now = now
        self._anchors: dict[int, tuple[datetime | None, float]] = {}

    def moved(self, partition: int, watermark: datetime, at: float | None = None) -> None:
        """``partition``'s watermark moved to ``watermark`` (at ``at``, default now); an older one is ignored
        (a heartbeat this clock sent, handled later, has moved nothing that was not counted)."""
        old = self._anchors.get(partition)
        if old is None or old[0] is None or watermark > old[0]:
            self._anchors[partition] = (watermark, self._now() if at is None else at)

    def keep(self, partitions: Iterable[int]) -> None:
        """Forget partitions other than ``partitions`` (this worker no longer owns them)."""
        kept = set(partitions)
        for p in [p for p in self._anchors if p not in kept]:
            del self._anchors[p]

    def due(self, partitions: Iterable[int], stored: Callable[[int], Anchor]) -> dict[int, Heartbeat]:
        """Heartbeats for those of ``partitions`` silent for ``after_s`` or longer (each counts as a move of
        its partition's watermark). A partition seen the first time takes its anchor from ``stored`` (the
        table; silence from now if it has no wall-clock time). A partition with no watermark (no
        reading ever) needs none."""
        now = self._now()
        out: dict[int, Heartbeat] = {}
        for p in partitions:
            anchor = self._anchors.get(p)
            if anchor is None or anchor[0] is None:
                watermark, at = stored(p)
                anchor = self._anchors[p] = (watermark, now if at is None else min(at, now))
            watermark, at = anchor
            silent = now - at
            if watermark is None or silent < self.after_s:
                continue
            out[p] = Heartbeat(watermark + timedelta(seconds=silent))
            self._anchors[p] = (out[p].time, now)
        return out
