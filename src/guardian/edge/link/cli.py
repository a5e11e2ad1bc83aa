"""``guardian edge enroll`` and ``guardian edge wireguard config``."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from guardian.device.durable import write_atomic
from guardian.edge.link.enroll import EnrollError, enroll, link_dir, split_address

WG_KEY_FILE = "wg.key"

wireguard_app = typer.Typer(
    help="WireGuard underlay for the link (optional).", no_args_is_help=True
)

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Edge data folder (env GUARDIAN_EDGE_DATA_DIR)."),
]
JsonOut = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _data_dir(data_dir: Path | None) -> Path:
    from guardian.edge.config import EdgeSettings

    return data_dir if data_dir is not None else EdgeSettings().data_dir


def _fail(message: str) -> typer.Exit:
    sys.stderr.write(f"error: {message}\n")
    return typer.Exit(1)


def enroll_command(
    relay: Annotated[str, typer.Option("--relay", help="The relay's link address HOST:PORT.")],
    token: Annotated[
        str, typer.Option("--token", help="Single-use bootstrap token from the control plane.")
    ],
    ca_file: Annotated[
        Path | None,
        typer.Option(
            "--ca-file",
            help="The relay's CA certificate (PEM). Without it the CA the relay presents is "
            "trusted on first use and pinned; compare the printed ca_sha256 with the relay's.",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Enrol again although already enrolled.")
    ] = False,
    data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """Enrol this edge at its relay: redeem the token for a client certificate."""
    try:
        result = enroll(_data_dir(data_dir), relay, token, ca_file=ca_file, force=force)
    except EnrollError as exc:
        raise _fail(str(exc)) from exc
    data = dataclasses.asdict(result)
    text = (
        f"enrolled site {result.site_id} (tenant {result.tenant_id}) at {result.relay}\n"
        f"relay CA sha256: {result.ca_sha256}"
    )
    sys.stdout.write((json.dumps(data) if json_out else text) + "\n")


def edge_wireguard_key(directory: Path) -> str:
    """The edge's WireGuard private key, generated into ``wg.key`` (mode 0600) once."""
    from guardian.relay.wireguard import decode_key, generate_keypair

    path = directory / WG_KEY_FILE
    if path.exists():
        key = path.read_text().strip()
        decode_key(key)
        return key
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = generate_keypair().private_key
    write_atomic(path, (key + "\n").encode())  # created 0600
    return key


@wireguard_app.command("config")
def wireguard_config(
    relay_public_key: Annotated[
        str, typer.Option("--relay-public-key", help="The relay's WireGuard public key.")
    ],
    endpoint: Annotated[
        str, typer.Option("--endpoint", help="The relay's WireGuard endpoint HOST:PORT.")
    ],
    address: Annotated[
        str, typer.Option("--address", help="This edge's tunnel address, e.g. 10.77.0.2/32.")
    ],
    relay_address: Annotated[
        str, typer.Option("--relay-address", help="The relay's tunnel address, e.g. 10.77.0.1.")
    ],
    data_dir: DataDir = None,
    json_out: JsonOut = False,
) -> None:
    """Print the edge's wg-quick config (its key is kept in <data_dir>/link/wg.key)."""
    from guardian.relay.wireguard import WireGuardError, edge_config, public_key_of

    try:
        host, port = split_address(endpoint)
        key = edge_wireguard_key(link_dir(_data_dir(data_dir)))
        config = edge_config(
            private_key=key,
            address=address,
            relay_public_key=relay_public_key,
            relay_address=relay_address,
            endpoint_host=host,
            endpoint_port=port,
        )
    except (EnrollError, WireGuardError) as exc:
        raise _fail(str(exc)) from exc
    if json_out:
        sys.stdout.write(json.dumps({"public_key": public_key_of(key), "config": config}) + "\n")
    else:
        sys.stdout.write(config)


def register(edge_app: typer.Typer) -> None:
    """Add ``enroll`` and ``wireguard`` to the ``guardian edge`` command group."""
    edge_app.command("enroll")(enroll_command)
    edge_app.add_typer(wireguard_app, name="wireguard")
