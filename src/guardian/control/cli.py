"""``guardian control …``: run the control plane and administer its store."""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer

from guardian.common.logging import configure_logging
from guardian.control.config import ControlSettings

control_app = typer.Typer(
    help="The multi-tenant control plane: tenants, users, sites, relays, events.",
    no_args_is_help=True,
)
db_app = typer.Typer(help="The control plane database.", no_args_is_help=True)
tenant_app = typer.Typer(help="Tenants.", no_args_is_help=True)
control_app.add_typer(db_app, name="db")
control_app.add_typer(tenant_app, name="tenant")

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Control data folder (env GUARDIAN_CONTROL_DATA_DIR)."),
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", help="Database (env GUARDIAN_CONTROL_DATABASE_URL)."),
]
JsonOut = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def load_settings(data_dir: Path | None, database_url: str | None, **extra: Any) -> ControlSettings:
    """Settings from the environment, overridden by the options given on the command line."""
    overrides: dict[str, Any] = {k: v for k, v in extra.items() if v is not None}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if database_url is not None:
        overrides["database_url"] = database_url
    settings = ControlSettings(**overrides)
    if {"log_level", "log_format"} & settings.model_fields_set:
        configure_logging(settings.log_level, settings.log_format)
    return settings


def out(data: object, json_out: bool, text: str) -> None:
    sys.stdout.write((json.dumps(data) if json_out else text) + "\n")


def fail(message: str, code: int = 1) -> typer.Exit:
    sys.stderr.write(f"error: {message}\n")
    return typer.Exit(code)


@control_app.command("run")
def run(
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    host: Annotated[str | None, typer.Option("--host", help="Listen address.")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Listen port.")] = None,
) -> None:
    """Serve the control plane API until SIGINT/SIGTERM."""
    from guardian.control.service import serve

    serve(load_settings(data_dir, database_url, host=host, port=port))


@db_app.command("upgrade")
def db_upgrade(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Apply the migrations (also done by `guardian control run`)."""
    from guardian.control.context import build_context

    ctx = build_context(load_settings(data_dir, database_url))
    ctx.db.dispose()
    sys.stdout.write("control database is up to date\n")


@tenant_app.command("create")
def tenant_create(
    name: Annotated[str, typer.Argument(help="Tenant name.")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    plan: Annotated[str, typer.Option("--plan", help="Plan name.")] = "free",
    json_out: JsonOut = False,
) -> None:
    """Create a tenant; prints `{"tenant_id", "name"}` with --json."""
    from guardian.common.db import utcnow
    from guardian.control.context import build_context
    from guardian.control.store.tables import Tenant

    if not name.strip() or len(name) > 128:
        raise fail("a tenant name needs 1-128 characters", 2)
    ctx = build_context(load_settings(data_dir, database_url))
    tenant_id = str(uuid.uuid4())
    try:
        with ctx.db.system() as session:
            session.add(Tenant(id=tenant_id, name=name.strip(), plan=plan, created_at=utcnow()))
    finally:
        ctx.db.dispose()
    out({"tenant_id": tenant_id, "name": name.strip()}, json_out, f"tenant {tenant_id} ({name})")


def _register() -> None:
    """Commands of the feature modules (users, relays)."""
    from guardian.control.auth.cli import register as register_users
    from guardian.control.tenancy_cli import register as register_relays

    register_users(control_app)
    register_relays(control_app)


_register()
