"""The ``guardian`` command."""

from __future__ import annotations

import importlib
import sys
from typing import Any

import typer

from guardian import __version__
from guardian.common.logging import configure_logging
from guardian.common.settings import ServiceSettings

_app = typer.Typer(
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


@_app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    base = ServiceSettings()
    configure_logging(base.log_level, base.log_format)


# (module, attribute, command name, is a sub-app). Each group registers on its own, when
# the third-party packages of its extra are installed: a Pi with only guardian[device]
# gets `guardian device`, a relay host with guardian[relay] gets `guardian relay`, ...
_COMMANDS: tuple[tuple[str, str, str, bool], ...] = (
    ("guardian.device.cli", "device_app", "device", True),
    ("guardian.edge.detect.cli", "detect_command", "detect", False),
    ("guardian.edge.detect.cli", "samples_command", "samples", False),
    ("guardian.edge.detect.cli", "models_app", "models", True),
    ("guardian.bench.cli", "bench_app", "bench", True),
    ("guardian.edge.cli", "edge_app", "edge", True),
    ("guardian.control.cli", "control_app", "control", True),
    ("guardian.relay.cli", "relay_app", "relay", True),
    ("guardian.archive.cli", "archive_app", "archive", True),
    ("guardian.demo.cli", "demo_command", "demo", False),
    ("guardian.docs.cli", "docs_app", "docs", True),
    ("guardian.appliance.cli", "appliance_app", "appliance", True),
)


def _register(only: str | None = None) -> None:
    """Add the command groups (only the one named ``only`` when given: each group imports
    its service's packages, so a single command starts several times faster)."""
    for module_name, attribute, name, is_group in _COMMANDS:
        if only is not None and name != only:
            continue
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            # Only a missing third-party package (an extra not installed) is tolerated;
            # a broken Guardian module is a bug and must surface.
            if exc.name is None or exc.name.split(".")[0] == "guardian":
                raise
            continue
        target = getattr(module, attribute)
        if is_group:
            _app.add_typer(target, name=name)
        else:
            _app.command(name)(target)


_registered = False


def _full_app() -> typer.Typer:
    global _registered
    if not _registered:
        _register()
        _registered = True
    return _app


def __getattr__(name: str) -> Any:
    # ``from guardian.cli import app``: the whole command tree (docs, tests).
    if name == "app":
        return _full_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    """Console-script entry point."""
    names = {entry[2] for entry in _COMMANDS}
    first = sys.argv[1] if len(sys.argv) > 1 else None
    if first in names:
        _register(first)  # `guardian edge …`: only the edge's commands are imported
        _app()
    else:
        _full_app()()  # no command, --help, --version or a typo: list everything
