"""Command modules: each imports ``app`` (or ``bench_app``/``grafana_app``) from ``vigil.cli``."""
