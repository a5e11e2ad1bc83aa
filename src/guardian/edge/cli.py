"""``guardian edge …``: run the service, manage the store, devices, tokens, workers."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

from guardian.common.logging import configure_logging
from guardian.edge.archive.cli import archive_app
from guardian.edge.camera.cli import camera_app
from guardian.edge.config import EdgeSettings
from guardian.edge.link.cli import register as _register_link

edge_app = typer.Typer(help="The edge appliance: capture ingest, detection, events.")
db_app = typer.Typer(help="The edge database.", no_args_is_help=True)
device_app = typer.Typer(help="Capture devices allowed to push images.", no_args_is_help=True)
token_app = typer.Typer(help="Admin tokens for the local read API.", no_args_is_help=True)
edge_app.add_typer(db_app, name="db")
edge_app.add_typer(device_app, name="device")
edge_app.add_typer(token_app, name="token")
edge_app.add_typer(camera_app, name="camera")
edge_app.add_typer(archive_app, name="archive")
_register_link(edge_app)

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Edge data folder (env GUARDIAN_EDGE_DATA_DIR)."),
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", help="Edge database (env GUARDIAN_EDGE_DATABASE_URL)."),
]
JsonOut = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def load_settings(data_dir: Path | None, database_url: str | None, **extra: Any) -> EdgeSettings:
    """Settings from the environment, overridden by the options given on the command line.

    ``GUARDIAN_EDGE_LOG_LEVEL`` / ``_LOG_FORMAT``, when set, take over from the CLI-wide
    ``GUARDIAN_LOG_…`` settings the root command applied.
    """
    overrides: dict[str, Any] = {k: v for k, v in extra.items() if v is not None}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if database_url is not None:
        overrides["database_url"] = database_url
    settings = EdgeSettings(**overrides)
    if {"log_level", "log_format"} & settings.model_fields_set:
        configure_logging(settings.log_level, settings.log_format)
    return settings


def _out(data: object, json_out: bool, text: str) -> None:
    sys.stdout.write((json.dumps(data) if json_out else text) + "\n")


def _fail(message: str, code: int = 1) -> typer.Exit:
    sys.stderr.write(f"error: {message}\n")
    return typer.Exit(code)


@edge_app.command("run")
def run(
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    host: Annotated[str | None, typer.Option("--host", help="Listen address.")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Listen port.")] = None,
) -> None:
    """Serve the edge API with its workers until interrupted."""
    from guardian.edge.detect.errors import DetectError
    from guardian.edge.service import serve

    settings = load_settings(data_dir, database_url, host=host, port=port)
    try:
        serve(settings)
    except DetectError as exc:
        raise _fail(str(exc), 2) from exc


@db_app.command("upgrade")
def db_upgrade(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Apply the edge's database migrations."""
    from guardian.edge.context import build_context

    ctx = build_context(load_settings(data_dir, database_url))
    ctx.engine.dispose()
    sys.stderr.write("edge database is up to date\n")


@device_app.command("add")
def device_add(
    name: Annotated[str, typer.Argument(help="Device id, e.g. shop-door-pi.")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    json_out: JsonOut = False,
) -> None:
    """Register a device; prints its key once (keep it: it is not shown again)."""
    from guardian.edge.context import build_context
    from guardian.edge.store.devices import add_device

    ctx = build_context(load_settings(data_dir, database_url))
    try:
        with ctx.sessions.begin() as session:
            key = add_device(session, ctx.sealer, name)
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    _out({"device_id": name, "key": key}, json_out, f"device {name} added; key: {key}")


@device_app.command("list")
def device_list(
    data_dir: DataDir = None, database_url: DatabaseUrl = None, json_out: JsonOut = False
) -> None:
    """List registered devices."""
    from guardian.edge.context import build_context
    from guardian.edge.store.devices import list_devices

    ctx = build_context(load_settings(data_dir, database_url))
    with ctx.sessions() as session:
        rows = [
            {
                "device_id": d.id,
                "key_fingerprint": d.key_fingerprint,
                "created_at": d.created_at.isoformat(),
                "revoked_at": d.revoked_at.isoformat() if d.revoked_at else None,
                "last_seen_at": d.last_seen_at.isoformat() if d.last_seen_at else None,
            }
            for d in list_devices(session)
        ]
    text = "\n".join(
        f"{r['device_id']:<24} {'revoked' if r['revoked_at'] else 'active':<8} "
        f"last seen {r['last_seen_at'] or 'never'}"
        for r in rows
    )
    _out(rows, json_out, text or "no devices")


@device_app.command("revoke")
def device_revoke(
    name: Annotated[str, typer.Argument(help="Device id.")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke a device: its requests are refused from now on."""
    from guardian.edge.context import build_context
    from guardian.edge.store.devices import revoke_device

    ctx = build_context(load_settings(data_dir, database_url))
    try:
        with ctx.sessions.begin() as session:
            revoke_device(session, name)
    except (KeyError, ValueError) as exc:
        raise _fail(str(exc)) from exc
    sys.stderr.write(f"device {name} revoked\n")


@token_app.command("create")
def token_create(
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    label: Annotated[str | None, typer.Option("--label", help="What the token is for.")] = None,
    json_out: JsonOut = False,
) -> None:
    """Create an admin token for the read API; printed once."""
    from guardian.edge.context import build_context
    from guardian.edge.store.tokens import create_token

    ctx = build_context(load_settings(data_dir, database_url))
    with ctx.sessions.begin() as session:
        token = create_token(session, label)
    _out({"token": token}, json_out, token)


@edge_app.command("worker")
def worker(
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    count: Annotated[int, typer.Option("--count", min=1, help="Worker threads.")] = 1,
) -> None:
    """Run extra capture workers in this process (any machine that reaches the database)."""
    import signal

    from guardian.edge.capture.worker import run_worker_process

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    run_worker_process(load_settings(data_dir, database_url), count, stop)


@edge_app.command("cleanup")
def cleanup(
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report, change nothing.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Allow deleting more than the safe fraction.")
    ] = False,
    json_out: JsonOut = False,
) -> None:
    """Apply retention and reconcile files with rows (see the edge settings)."""
    import dataclasses

    from guardian.edge.capture.cleanup import run_cleanup
    from guardian.edge.context import build_context

    ctx = build_context(load_settings(data_dir, database_url))
    report = run_cleanup(ctx, dry_run=dry_run, force=force)
    data = dataclasses.asdict(report)
    _out(data, json_out, json.dumps(data, indent=2, default=str))
    if getattr(report, "refused", None):
        raise typer.Exit(1)
