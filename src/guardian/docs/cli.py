"""``guardian docs …``: regenerate the generated documentation."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

docs_app = typer.Typer(help="Generated documentation.", no_args_is_help=True)

Out = Annotated[
    Path | None, typer.Option("--out", help="Write to this file instead of standard output.")
]
Check = Annotated[
    bool,
    typer.Option("--check", help="Write nothing; exit 1 when --out differs from the output."),
]


def _emit(text: str, out: Path | None, check: bool) -> None:
    if out is None:
        if check:
            sys.stderr.write("error: --check needs --out\n")
            raise typer.Exit(2)
        sys.stdout.write(text)
        return
    if check:
        current = out.read_text(encoding="utf-8") if out.exists() else None
        if current != text:
            sys.stderr.write(f"{out} is stale; regenerate it without --check\n")
            raise typer.Exit(1)
        sys.stderr.write(f"{out} is up to date\n")
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    sys.stderr.write(f"wrote {out}\n")


@docs_app.command("config")
def config_command(out: Out = None, check: Check = False) -> None:
    """The configuration reference of edge, relay and control plane (Markdown)."""
    from guardian.docs.config_reference import render_reference

    _emit(render_reference(), out, check)


@docs_app.command("openapi")
def openapi_command(out: Out = None, check: Check = False) -> None:
    """The control plane's OpenAPI document (JSON), as served at /openapi.json."""
    from guardian.docs.openapi import control_openapi, render_openapi

    _emit(render_openapi(control_openapi()), out, check)
