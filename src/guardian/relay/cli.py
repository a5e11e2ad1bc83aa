"""``guardian relay``: run the relay, admin tokens, enrolled edges, WireGuard configs."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from guardian.relay.config import RelaySettings
from guardian.relay.wireguard import (
    EdgePeer,
    KeyPair,
    WireGuardError,
    edge_config,
    generate_keypair,
    public_key_of,
    relay_config,
)

relay_app = typer.Typer(help="The relay: carries a tenant's edges to the control plane.")
edge_app = typer.Typer(help="Enrolled edges.")
token_app = typer.Typer(help="Relay admin tokens (for the relay's HTTP API).")
wireguard_app = typer.Typer(help="Optional WireGuard underlay between relay and edges.")
relay_app.add_typer(edge_app, name="edge")
relay_app.add_typer(token_app, name="token")
relay_app.add_typer(wireguard_app, name="wireguard")

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="The relay's data folder.")]
JsonOut = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def load_settings(data_dir: Path | None, **extra: Any) -> RelaySettings:
    """Settings from the environment, overridden by the options given."""
    values = {k: v for k, v in {"data_dir": data_dir, **extra}.items() if v is not None}
    return RelaySettings(**values)


def _out(data: object, json_out: bool, text: str) -> None:
    typer.echo(json.dumps(data) if json_out else text)


@relay_app.command("run")
def run(
    data_dir: DataDir = None,
    host: Annotated[str | None, typer.Option("--host", help="Listen address.")] = None,
    http_port: Annotated[int | None, typer.Option("--http-port", help="HTTP API port.")] = None,
    link_port: Annotated[int | None, typer.Option("--link-port", help="Edge link port.")] = None,
) -> None:
    """Serve the edge link, forward to the control plane and serve the API until SIGTERM."""
    from guardian.relay.service import serve

    serve(load_settings(data_dir, host=host, http_port=http_port, link_port=link_port))


@token_app.command("create")
def token_create(data_dir: DataDir = None, json_out: JsonOut = False) -> None:
    """Create a relay admin token (printed once; only its SHA-256 is kept)."""
    from guardian.relay.context import ADMIN_TOKENS_FILE, AdminTokens

    settings = load_settings(data_dir)
    token = AdminTokens(settings.data_dir / ADMIN_TOKENS_FILE).create()
    _out({"token": token}, json_out, token)


def _open_sessions(data_dir: Path | None) -> Any:
    from guardian.common.db import session_factory
    from guardian.relay.store.schema import open_store

    settings = load_settings(data_dir)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return session_factory(open_store(settings.resolved_database_url()))


@edge_app.command("list")
def edge_list(data_dir: DataDir = None, json_out: JsonOut = False) -> None:
    """List enrolled edges."""
    from guardian.relay.store.edges import list_edges

    with _open_sessions(data_dir)() as session:
        edges = list_edges(session)
    rows = [
        {
            "site_id": e.site_id,
            "tenant_id": e.tenant_id,
            "cert_serial": e.cert_serial,
            "enrolled_at": e.enrolled_at.isoformat(),
            "revoked_at": e.revoked_at.isoformat() if e.revoked_at else None,
            "last_seen_at": e.last_seen_at.isoformat() if e.last_seen_at else None,
        }
        for e in edges
    ]
    text = "\n".join(
        f"{r['site_id']}  tenant={r['tenant_id']}  "
        f"{'revoked' if r['revoked_at'] else 'active'}  last_seen={r['last_seen_at'] or '-'}"
        for r in rows
    )
    _out(rows, json_out, text or "no enrolled edges")


@edge_app.command("revoke")
def edge_revoke(site_id: str, data_dir: DataDir = None) -> None:
    """Refuse the site's edge certificate from now on (it must enrol again)."""
    from guardian.relay.store.edges import revoke_site

    with _open_sessions(data_dir).begin() as session:
        found = revoke_site(session, site_id, dt.datetime.now(dt.UTC), "revoked by the operator")
    if not found:
        typer.echo(f"no edge enrolled for site {site_id}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked the edge of site {site_id}")


@wireguard_app.command("config")
def wireguard_config(
    edge_address: Annotated[str, typer.Option(help="The edge's tunnel address, e.g. 10.8.0.2/24.")],
    relay_address: Annotated[str, typer.Option(help="The relay's tunnel address, 10.8.0.1/24.")],
    endpoint: Annotated[str, typer.Option(help="host:port edges reach the relay's WireGuard at.")],
    json_out: JsonOut = False,
) -> None:
    """Generate keys and matching wg-quick configs for the relay and one edge."""
    host, _, port = endpoint.rpartition(":")
    if not host or not port.isdigit():
        typer.echo("--endpoint must be host:port", err=True)
        raise typer.Exit(2)
    relay_keys, edge_keys = generate_keypair(), generate_keypair()
    try:
        relay_text, edge_text = _wireguard_pair(
            relay_keys.private_key, edge_keys, relay_address, edge_address, host, int(port)
        )
    except WireGuardError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    _out(
        {"relay_config": relay_text, "edge_config": edge_text},
        json_out,
        f"# relay\n{relay_text}\n# edge\n{edge_text}",
    )


def _wireguard_pair(
    relay_private: str,
    edge_keys: KeyPair,
    relay_address: str,
    edge_address: str,
    host: str,
    port: int,
) -> tuple[str, str]:
    peer = EdgePeer(
        name="edge", public_key=edge_keys.public_key, address=edge_address, preshared_key=None
    )
    relay_text = relay_config(
        private_key=relay_private, address=relay_address, peers=[peer], listen_port=port
    )
    edge_text = edge_config(
        private_key=edge_keys.private_key,
        address=edge_address,
        relay_public_key=public_key_of(relay_private),
        relay_address=relay_address,
        endpoint_host=host,
        endpoint_port=port,
    )
    return relay_text, edge_text
