"""``vigil profiles load FILE``: patient profiles (SpO2 scale for NEWS2) to the profiles topic."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vigil.cli import app

profiles_app = typer.Typer(
    help="Patient profiles: the NEWS2 SpO2 scale the worker scores on.", no_args_is_help=True
)
app.add_typer(profiles_app, name="profiles")


@profiles_app.command("load")
def load(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, help="JSONL of PatientProfile (e.g. simulator profiles.jsonl)."
        ),
    ],
    actor: Annotated[
        str, typer.Option(help="Who set these profiles (recorded in the worker's `profile` audit).")
    ] = "bulk-load",
    create_topics: Annotated[bool, typer.Option(help="Create missing Kafka topics first.")] = True,
) -> None:
    """Publish every profile in FILE to ``topics.profiles`` (keyed by patient, compacted); waits for Kafka."""
    from rich.console import Console

    from ingest.episodes import read_profiles
    from ingest.producer import KafkaSink, ProduceError
    from vigil.settings import load_settings

    try:
        profiles = read_profiles(file)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="FILE") from exc
    settings = load_settings()
    if create_topics:
        from ingest.topics import ensure_topics

        ensure_topics(settings)
    sink = KafkaSink(settings)
    try:
        sink.send_profiles(profiles, actor=actor)
    except ProduceError as exc:
        Console(stderr=True).print(f"[red]kafka:[/] {exc}")
        raise typer.Exit(1) from exc
    finally:
        sink.close()
    scale_2 = sum(p.spo2_scale == 2 for p in profiles)
    Console().print(
        f"{len(profiles)} profiles sent to {settings.topics.profiles} ({scale_2} on SpO2 scale 2)"
    )
