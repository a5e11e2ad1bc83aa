"""``guardian archive …``: restore an archived clip; relay admins delete and audit archives."""

from __future__ import annotations

import getpass
import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

archive_app = typer.Typer(
    help="The encrypted archive: restore clips (secret from stdin); relay admin actions.",
    no_args_is_help=True,
)

RelayDataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="The relay's data folder (env GUARDIAN_RELAY_DATA_DIR)."),
]
JsonOut = Annotated[bool, typer.Option("--json", help="Print JSON.")]
GET_TIMEOUT_S = 3600.0


def _fail(message: str, code: int = 1) -> typer.Exit:
    sys.stderr.write(f"error: {message}\n")
    return typer.Exit(code)


def _read_secret() -> bytes:
    text = getpass.getpass("archive secret: ") if sys.stdin.isatty() else sys.stdin.read()
    value = text.removesuffix("\n").removesuffix("\r")
    if not value:
        raise _fail("no archive secret on stdin")
    return value.encode("utf-8")


@archive_app.command("get")
def get(
    cid: Annotated[str, typer.Argument(help="The blob's content ID (bafkrei…).")],
    relay: Annotated[str, typer.Option("--relay", help="The relay's link address HOST:PORT.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the restored clip.")],
    identity: Annotated[
        Path | None,
        typer.Option(
            "--identity",
            help="Authenticate with the edge's link identity folder (<edge data_dir>/link: "
            "edge.key, edge.crt, ca.crt).",
        ),
    ] = None,
    ca_file: Annotated[
        Path | None,
        typer.Option(
            "--ca-file",
            help="The relay's CA certificate, to authenticate with a relay admin token from "
            "the environment variable GUARDIAN_RELAY_ADMIN_TOKEN instead.",
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing --out file.")] = False,
) -> None:
    """Fetch a sealed clip, verify its CID and every chunk, decrypt it with the secret (stdin).

    A wrong secret or a corrupted blob fails with nothing written to --out.
    """
    import grpc

    from guardian.archive.cid import check_cid
    from guardian.archive.client import ADMIN_TOKEN_ENV, RelayAccess, RelayAccessError, fetch
    from guardian.archive.restore import RestoreError, restore

    try:
        check_cid(cid)
    except ValueError as exc:
        raise _fail(str(exc), 2) from exc
    if out.exists() and not force:
        raise _fail(f"{out} exists; pass --force to replace it", 2)
    try:
        if identity is not None:
            access = RelayAccess.from_identity(identity)
        elif ca_file is not None and os.environ.get(ADMIN_TOKEN_ENV):
            access = RelayAccess.from_admin_token(ca_file, os.environ[ADMIN_TOKEN_ENV])
        else:
            raise _fail(
                f"authenticate with --identity EDGE_LINK_DIR, or --ca-file with {ADMIN_TOKEN_ENV}",
                2,
            )
    except RelayAccessError as exc:
        raise _fail(str(exc), 2) from exc
    secret = _read_secret()
    try:
        with access.channel(relay) as channel:
            size = restore(cid, fetch(channel, access, cid, timeout=GET_TIMEOUT_S), secret, out)
    except grpc.RpcError as exc:
        code = exc.code() if isinstance(exc, grpc.Call) else None
        detail = exc.details() if isinstance(exc, grpc.Call) else str(exc)
        raise _fail(f"the relay refused ({getattr(code, 'name', code)}): {detail}") from exc
    except RestoreError as exc:
        raise _fail(f"restore failed, nothing written: {exc}") from exc
    sys.stdout.write(f"restored {size} bytes to {out}\n")


@archive_app.command("delete")
def delete(
    cid: Annotated[str, typer.Argument(help="The blob's content ID.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the audit trail).")],
    tenant: Annotated[
        str | None, typer.Option("--tenant", help="The tenant, when several hold the CID.")
    ] = None,
    actor: Annotated[
        str | None, typer.Option("--actor", help="Who deletes (default: the login name).")
    ] = None,
    data_dir: RelayDataDir = None,
    json_out: JsonOut = False,
) -> None:
    """Relay admin: delete an archived blob (audited; the control plane forgets its CID).

    Run on the relay host: access to the relay's store is what makes an admin.
    """
    from guardian.relay.archive.admin import ArchiveAdminError, delete_archive
    from guardian.relay.archive.backends import build_backend
    from guardian.relay.archive.ledger import ArchiveLedgerClient
    from guardian.relay.config import RelaySettings
    from guardian.relay.context import build_context

    settings = RelaySettings(data_dir=data_dir) if data_dir is not None else RelaySettings()
    if not (settings.data_dir / "ca").is_dir():
        raise _fail(f"{settings.data_dir} is not a relay's data folder (no ca/)", 2)
    ctx = build_context(settings)
    try:
        ledger = None
        if ctx.control is not None:
            ledger = ArchiveLedgerClient(
                ctx.control.channel, ctx.control.metadata, ctx.sessions, ctx.clock
            )
        backend = build_backend(settings.archive, settings.data_dir)
        try:
            done = delete_archive(
                ctx.sessions,
                backend,
                ledger,
                cid=cid,
                actor=actor or getpass.getuser(),
                reason=reason,
                tenant_id=tenant,
            )
        except (ArchiveAdminError, ValueError) as exc:
            raise _fail(str(exc), 2) from exc
    finally:
        if ctx.control is not None:
            ctx.control.close()
        ctx.engine.dispose()
    data = {
        "cid": done.cid,
        "tenant_id": done.tenant_id,
        "size": done.size,
        "event_ids": done.event_ids,
        "reported": done.reported,
    }
    text = f"deleted {done.cid} ({done.size} bytes, tenant {done.tenant_id})"
    sys.stdout.write((json.dumps(data) if json_out else text) + "\n")


@archive_app.command("audit")
def audit(data_dir: RelayDataDir = None, json_out: JsonOut = False) -> None:
    """Relay admin: the latest admin actions on the archive, newest first."""
    from guardian.common.db import session_factory
    from guardian.relay.archive.store import audit_trail
    from guardian.relay.config import RelaySettings
    from guardian.relay.store.schema import open_store

    settings = RelaySettings(data_dir=data_dir) if data_dir is not None else RelaySettings()
    engine = open_store(settings.resolved_database_url())
    try:
        with session_factory(engine)() as session:
            rows = [
                {
                    "at": row.at.isoformat(),
                    "actor": row.actor,
                    "action": row.action,
                    "tenant_id": row.tenant_id,
                    "cid": row.cid,
                    "size": row.size_bytes,
                    "reason": row.reason,
                }
                for row in audit_trail(session)
            ]
    finally:
        engine.dispose()
    if json_out:
        sys.stdout.write(json.dumps(rows) + "\n")
        return
    for row in rows:
        sys.stdout.write(
            f"{row['at']} {row['actor']} {row['action']} {row['cid']} {row['reason']}\n"
        )
