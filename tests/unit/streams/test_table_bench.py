"""``vigil bench table`` on a few states: a benchmark that breaks is a bug."""

from __future__ import annotations

from streams.app import table_options
from streams.table_bench import run_table_bench
from vigil.settings import Settings


def test_both_configurations_write_the_same_states_in_their_own_process() -> None:
    settings = Settings()
    r = run_table_bench(settings, partitions=2, patients=20, rounds=2)
    assert r["faust_defaults"]["options"] == {}
    assert r["worker"]["options"] == table_options(settings.worker)
    for name in ("faust_defaults", "worker"):
        measured = r[name]
        assert measured["written_mb"] == r["worker"]["written_mb"] > 0.1  # 40 states of ~6.7 KB
        assert measured["seconds"] >= 0 and isinstance(measured["rss_growth_mb"], float)
