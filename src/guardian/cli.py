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
    # The device client must work on a Pi that installed only guardian[device]: register
    # it first, and the edge commands only when their dependencies are installed.
    from guardian.device.cli import device_app

    app.add_typer(device_app, name="device")
    try:
        from guardian.bench.cli import bench_app
        from guardian.edge.cli import edge_app
        from guardian.edge.detect.cli import detect_command, models_app, samples_command
    except ModuleNotFoundError as exc:
        if exc.name not in _EDGE_ONLY:
            raise
        return
    app.command("detect")(detect_command)
    app.command("samples")(samples_command)
    app.add_typer(models_app, name="models")
    app.add_typer(bench_app, name="bench")
    app.add_typer(edge_app, name="edge")
    from guardian.control.cli import control_app

    app.add_typer(control_app, name="control")
    from guardian.relay.cli import relay_app

    app.add_typer(relay_app, name="relay")


# Third-party packages of the edge extra; without them only `guardian device` is offered.
_EDGE_ONLY = frozenset(
    {"sqlalchemy", "alembic", "fastapi", "uvicorn", "cv2", "openvino", "onnxruntime",
     "prometheus_client", "cryptography", "psycopg"}
)  # fmt: skip


_register()


def main() -> None:
    """Console-script entry point."""
    app()
