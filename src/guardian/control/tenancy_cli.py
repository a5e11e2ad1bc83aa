"""``guardian control relay add|assign|list``: relays and which tenant each serves."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from sqlalchemy.orm import Session

from guardian.control.cli import DatabaseUrl, DataDir, JsonOut, fail, load_settings, out

relay_app = typer.Typer(help="Relays: private nodes carrying sites' traffic.", no_args_is_help=True)

T = TypeVar("T")


def _with_system_session(
    data_dir: Path | None, database_url: str | None, work: Callable[[Session], T]
) -> T:
    """Run ``work(session)`` in one system transaction; API errors exit with their message."""
    from guardian.common.api_errors import ApiError
    from guardian.control.context import build_context

    ctx = build_context(load_settings(data_dir, database_url))
    try:
        with ctx.db.system() as session:
            return work(session)
    except ApiError as exc:
        raise fail(exc.message, 2 if exc.status in (400, 422) else 1) from None
    finally:
        ctx.db.dispose()


PublicUrl = Annotated[
    str | None,
    typer.Option(
        "--public-url",
        help="Where browsers reach the relay's HTTP API (clip and snapshot playback).",
    ),
]


@relay_app.command("add")
def relay_add(
    name: Annotated[str, typer.Argument(help="Relay name (unique).")],
    url: Annotated[str, typer.Option("--url", help="Where sites reach the relay.")],
    public_url: PublicUrl = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    json_out: JsonOut = False,
) -> None:
    """Add a relay; prints its token once (`{"relay_id", "name", "token"}` with --json)."""
    from guardian.control.playback import validate_public_url
    from guardian.control.tenancy.relays import create_relay

    def work(session: Session) -> dict[str, str]:
        relay, token = create_relay(session, name=name, url=url)
        if public_url is not None:
            relay.public_url = validate_public_url(public_url)
        return {"relay_id": relay.id, "name": relay.name, "token": token}

    made = _with_system_session(data_dir, database_url, work)
    text = f"relay {made['relay_id']} ({made['name']})\ntoken (shown once): {made['token']}"
    out(made, json_out, text)


@relay_app.command("assign")
def relay_assign(
    relay: Annotated[str, typer.Argument(help="Relay id or name.")],
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant id.")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    json_out: JsonOut = False,
) -> None:
    """Make the relay serve the tenant (replacing the tenant's previous relay)."""
    from guardian.common.api_errors import NotFound
    from guardian.control.tenancy.relays import assign_relay, find_relay

    def work(session: Session) -> dict[str, str]:
        found = find_relay(session, relay)
        if found is None:
            raise NotFound(f"no relay {relay!r}")
        assign_relay(session, tenant_id=tenant, relay_id=found.id)
        return {"relay_id": found.id, "name": found.name, "tenant_id": tenant}

    done = _with_system_session(data_dir, database_url, work)
    out(done, json_out, f"relay {done['name']} now serves tenant {tenant}")


@relay_app.command("set")
def relay_set(
    relay: Annotated[str, typer.Argument(help="Relay id or name.")],
    url: Annotated[str | None, typer.Option("--url", help="Where sites reach the relay.")] = None,
    public_url: PublicUrl = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    json_out: JsonOut = False,
) -> None:
    """Change a relay's addresses (after it moved); its token stays valid."""
    from guardian.common.api_errors import NotFound
    from guardian.control.playback import validate_public_url
    from guardian.control.tenancy.relays import find_relay, validate_relay

    if url is None and public_url is None:
        raise fail("nothing to change: give --url and/or --public-url", 2)

    def work(session: Session) -> dict[str, str | None]:
        found = find_relay(session, relay)
        if found is None:
            raise NotFound(f"no relay {relay!r}")
        if url is not None:
            found.url = validate_relay(found.name, url)[1]
        if public_url is not None:
            found.public_url = validate_public_url(public_url)
        return {
            "relay_id": found.id, "name": found.name, "url": found.url,
            "public_url": found.public_url,
        }  # fmt: skip

    done = _with_system_session(data_dir, database_url, work)
    out(done, json_out, f"relay {done['name']}: {done['url']} (browsers: {done['public_url']})")


@relay_app.command("list")
def relay_list(
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    json_out: JsonOut = False,
) -> None:
    """List relays with their health and the tenants they serve."""
    from guardian.control.tenancy.relays import list_relays, tenants_of

    def work(session: Session) -> list[dict[str, Any]]:
        return [
            {
                "relay_id": r.id,
                "name": r.name,
                "url": r.url,
                "public_url": r.public_url,
                "health": r.health,
                "last_seen_at": r.last_seen_at.isoformat() if r.last_seen_at else None,
                "tenants": tenants_of(session, r.id),
            }
            for r in list_relays(session)
        ]

    relays = _with_system_session(data_dir, database_url, work)
    lines = [
        f"{r['name']}\t{r['relay_id']}\t{r['url']}\t{len(r['tenants'])} tenant(s)" for r in relays
    ]
    out({"relays": relays}, json_out, "\n".join(lines) or "no relays")


def register(control_app: typer.Typer) -> None:
    """Add the relay commands to ``control_app``."""
    control_app.add_typer(relay_app, name="relay")
