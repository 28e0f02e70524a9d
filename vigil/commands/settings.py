"""``vigil settings``: show the effective configuration (secrets masked)."""

from __future__ import annotations

from vigil.cli import app


@app.command("settings")
def show_settings() -> None:
    """Print the effective settings as JSON, secrets masked; fails fast on an invalid value."""
    from rich import print_json

    from vigil.settings import load_settings

    print_json(load_settings().model_dump_json())
