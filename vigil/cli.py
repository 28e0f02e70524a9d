"""The ``vigil`` command line. Each area registers its commands from ``vigil/commands/``.

Run ``vigil --help`` for the list. Heavy imports happen inside each command, so
``vigil --help`` stays fast.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Vigil: remote patient monitoring on Kafka, Faust, River, InfluxDB and Grafana.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
bench_app = typer.Typer(
    help="Benchmarks: print numbers (JSON) measured on this machine.", no_args_is_help=True
)
grafana_app = typer.Typer(
    help="Grafana: provision datasource, dashboards and alerting.", no_args_is_help=True
)
app.add_typer(bench_app, name="bench")
app.add_typer(grafana_app, name="grafana")


def _register_commands() -> None:
    """Import the command modules; each adds its commands to the apps above."""
    import importlib
    import pkgutil

    import vigil.commands

    for mod in pkgutil.iter_modules(vigil.commands.__path__):
        importlib.import_module(f"vigil.commands.{mod.name}")


_register_commands()
