"""Process-wide tuning for Vigil's long-running hot loops (replay, demo, stream worker).

The readings pipeline allocates millions of short-lived objects (readings, scores, events),
almost none of them in reference cycles, next to a large, long-lived heap (imported modules,
per-patient detector state). With CPython's default thresholds the cyclic garbage collector
runs every 700 net allocations and its older generations walk that whole heap again and
again; reference counting frees the short-lived objects anyway.
"""

from __future__ import annotations

import gc

GC_THRESHOLDS = (50_000, 20, 100)
"""Young generation every 50,000 net allocations (CPython: 700), older ones rarer."""


def tune_gc() -> None:
    """Move what is alive now out of the collector's reach and collect less often.

    Call once, after start-up (imports, settings) and before the hot loop; a forked child
    inherits it. Cycles are still collected, only later.

    >>> tune_gc(); gc.get_threshold() == GC_THRESHOLDS
    True
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
