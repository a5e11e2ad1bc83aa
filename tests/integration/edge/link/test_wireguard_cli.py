"""``guardian edge wireguard config``: a key kept once, a config routing only the relay."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import typer
from typer.testing import CliRunner

from guardian.edge.link.cli import register
from guardian.relay.wireguard import generate_keypair, public_key_of


def app() -> typer.Typer:
    edge = typer.Typer()
    edge.command("noop")(lambda: None)  # a group needs two commands to keep subcommand names
    register(edge)
    return edge


def test_wireguard_config_generates_the_key_once_and_renders_the_peer(tmp_path: Path) -> None:
    relay = generate_keypair()
    args = [
        "wireguard", "config", "--relay-public-key", relay.public_key,
        "--endpoint", "relay.example.com:51820", "--address", "10.77.0.2/32",
        "--relay-address", "10.77.0.1", "--data-dir", str(tmp_path), "--json",
    ]  # fmt: skip

    first = CliRunner().invoke(app(), args)
    second = CliRunner().invoke(app(), args)

    assert first.exit_code == 0, first.output
    key_file = tmp_path / "link" / "wg.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    data = json.loads(first.output)
    assert data == json.loads(second.output)  # the same key both times
    assert data["public_key"] == public_key_of(key_file.read_text().strip())
    config = data["config"]
    assert "Endpoint = relay.example.com:51820" in config
    assert "AllowedIPs = 10.77.0.1/32" in config
    assert f"PublicKey = {relay.public_key}" in config


def test_wireguard_config_refuses_a_bad_endpoint(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app(),
        [
            "wireguard",
            "config",
            "--relay-public-key",
            generate_keypair().public_key,
            "--endpoint",
            "no-port",
            "--address",
            "10.77.0.2/32",
            "--relay-address",
            "10.77.0.1",
            "--data-dir",
            str(tmp_path),
        ],
    )

    assert result.exit_code == 1
    assert not (tmp_path / "link" / "wg.key").exists()
