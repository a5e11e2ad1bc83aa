"""``guardian edge archive …``: set the archive secret, see what is archived."""

from __future__ import annotations

import getpass
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

archive_app = typer.Typer(help="The encrypted archive of event clips.", no_args_is_help=True)

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Edge data folder (env GUARDIAN_EDGE_DATA_DIR)."),
]


def _fail(message: str) -> typer.Exit:
    sys.stderr.write(f"error: {message}\n")
    return typer.Exit(1)


def _read_secret() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("archive secret: ")
        if getpass.getpass("again: ") != first:
            raise _fail("the two entries differ")
        return first
    return sys.stdin.read()


@archive_app.command("set-secret")
def set_secret(data_dir: DataDir = None) -> None:
    """Set the archive secret, read from stdin (never logged, never sent anywhere).

    Blobs sealed from now on use it; keep it safe: without it no archive can be restored.
    """
    from guardian.common.seal import Sealer, load_or_create_master_key
    from guardian.edge.archive.secret import SecretError, parse_secret, store_secret
    from guardian.edge.config import EdgeSettings

    settings = EdgeSettings(data_dir=data_dir) if data_dir is not None else EdgeSettings()
    try:
        secret = parse_secret(_read_secret())
    except SecretError as exc:
        raise _fail(str(exc)) from exc
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    sealer = Sealer(load_or_create_master_key(settings.master_key_path))
    store_secret(settings.data_dir, sealer, secret)
    sys.stdout.write("archive secret set\n")


@archive_app.command("status")
def status(
    data_dir: DataDir = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Archived events and the archive jobs by state."""
    from sqlalchemy import func, select

    from guardian.edge.archive.jobs import KIND_ARCHIVE_CLIP
    from guardian.edge.archive.secret import secret_path
    from guardian.edge.archive.tables import Archive
    from guardian.edge.config import EdgeSettings
    from guardian.edge.context import build_context
    from guardian.edge.store.tables import Job

    settings = EdgeSettings(data_dir=data_dir) if data_dir is not None else EdgeSettings()
    ctx = build_context(settings)
    try:
        with ctx.sessions() as session:
            archived = session.execute(
                select(func.count(), func.coalesce(func.sum(Archive.size_bytes), 0))
            ).one()
            jobs = dict(
                session.execute(
                    select(Job.state, func.count())
                    .where(Job.kind == KIND_ARCHIVE_CLIP)
                    .group_by(Job.state)
                ).all()
            )
    finally:
        ctx.engine.dispose()
    data = {
        "enabled": settings.archive.enabled,
        "secret_set": secret_path(settings.data_dir).exists(),
        "archived": int(archived[0]),
        "archived_bytes": int(archived[1]),
        "jobs": {str(k): int(v) for k, v in jobs.items()},
    }
    if json_out:
        sys.stdout.write(json.dumps(data) + "\n")
        return
    for key, value in data.items():
        sys.stdout.write(f"{key}: {value}\n")
