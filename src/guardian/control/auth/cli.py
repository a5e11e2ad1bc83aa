"""``guardian control user …`` (being built)."""

from __future__ import annotations

import typer


def register(control_app: typer.Typer) -> None:
    """Add the user commands to ``control_app``."""
