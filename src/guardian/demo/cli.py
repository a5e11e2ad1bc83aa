"""The ``guardian demo`` command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from guardian.demo.layout import DEFAULT_DATA_DIR, DEFAULT_PORT


def demo_command(
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="Folder for the demo's services, state and logs.")
    ] = DEFAULT_DATA_DIR,
    port: Annotated[
        int,
        typer.Option(
            "--port", min=1024, max=65535, help="The control plane's HTTP port (the UI and API)."
        ),
    ] = DEFAULT_PORT,
    status_file: Annotated[
        Path | None,
        typer.Option(
            "--status-file",
            help='Write {"url", "email", "password"} as JSON here once every service is ready.',
        ),
    ] = None,
    reset: Annotated[
        bool, typer.Option("--reset", help="Delete the demo data dir first and start over.")
    ] = False,
) -> None:
    """Run control plane, relay and edge here, with a street camera and a simulated Pi."""
    from guardian.demo.runner import DemoOptions, run_demo

    code = run_demo(DemoOptions(data_dir, port, status_file, reset))
    raise typer.Exit(code)
