"""The ``guardian`` command."""

from __future__ import annotations

import typer

from guardian import __version__
from guardian.common.logging import configure_logging
from guardian.common.settings import ServiceSettings

app = typer.Typer(
    name="guardian",
    help="Guardian: private camera AI — edge, relay and control plane.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    base = ServiceSettings()
    configure_logging(base.log_level, base.log_format)


def _register() -> None:
    from guardian.bench.cli import bench_app
    from guardian.edge.detect.cli import detect_command, models_app, samples_command

    app.command("detect")(detect_command)
    app.command("samples")(samples_command)
    app.add_typer(models_app, name="models")
    app.add_typer(bench_app, name="bench")


_register()


def main() -> None:
    """Console-script entry point."""
    app()
