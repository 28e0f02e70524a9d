"""``vigil bench pipeline`` end to end on the real services, small: a benchmark that breaks is a bug."""

from __future__ import annotations

from streams.bench import run_pipeline_bench
from vigil.settings import Settings


def test_bench_measures_one_worker_then_latency_with_two(service_settings: Settings) -> None:
    r = run_pipeline_bench(
        service_settings,
        readings=600,
        patients=12,
        rate=150,
        latency_seconds=4,
        latency_workers=2,
        recovery_patients=300,
    )

    assert r["worker_readings_per_s"] > 0 and r["ratio"] > 0
    assert 0 < r["worker_cpu_us_per_reading"] < 1e6
    # the Faust floor read all 600 readings (it prints only then)
    assert r["faust_floor_readings_per_s"] > 0 and 0 < r["faust_floor_cpu_us_per_reading"] < 1e6
    assert r["faust_floor_ratio"] == round(
        r["faust_floor_readings_per_s"] / r["bare_aiokafka_decode_readings_per_s"], 3
    )
    assert r["latency_workers"] == 2
    assert r["latency_readings"] == r["latency_samples"] == 600
    assert r["latency_injected_hard_limit_readings"] > 0 and r["alert_latency_samples"] > 0
    assert 0 < r["latency_p50_ms"] <= r["latency_p99_ms"] < 60_000
    assert r["latency_worker_cpu_us_per_reading"] > 0 and 0 < r["latency_worker_cores"] < 8
    assert r["state_days"] == 28 and r["state_bytes_per_patient"] > 0
    assert r["decoded_state_kib_per_patient"] * 1024 > r["state_bytes_per_patient"], "objects outweigh JSON"
    assert r["state_cache_mb_per_10000_patients"] > r["state_mb_per_10000_patients"]
    assert r["recovery_patients"] == 300 and r["recovery_state_mb"] > 1
    assert 0 < r["recovery_ready_s"] < 300 and 0 < r["restart_ready_s"] < 300
