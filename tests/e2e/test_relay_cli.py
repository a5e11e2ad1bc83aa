"""``guardian relay token create|edge list|edge revoke|wireguard config`` in subprocesses."""

from __future__ import annotations

import json
from pathlib import Path

from guardian.relay.context import ADMIN_TOKENS_FILE, AdminTokens
from tests.e2e.cli import run_cli


def test_token_create_and_edge_commands(tmp_path: Path) -> None:
    data_dir = ["--data-dir", str(tmp_path / "relay")]
    created = run_cli("relay", "token", "create", "--json", *data_dir)
    assert created.returncode == 0, created.stderr
    token = json.loads(created.stdout)["token"]
    assert AdminTokens(tmp_path / "relay" / ADMIN_TOKENS_FILE).verify(token)

    listed = run_cli("relay", "edge", "list", "--json", *data_dir)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == []
    revoked = run_cli("relay", "edge", "revoke", "no-such-site", *data_dir)
    assert revoked.returncode == 1 and "no edge enrolled" in revoked.stderr


def test_wireguard_config_pairs_relay_and_edge() -> None:
    got = run_cli(
        "relay", "wireguard", "config", "--edge-address", "10.8.0.2/24",
        "--relay-address", "10.8.0.1/24", "--endpoint", "relay.example:51820", "--json",
    )  # fmt: skip
    assert got.returncode == 0, got.stderr
    configs = json.loads(got.stdout)
    assert "AllowedIPs = 10.8.0.2/32" in configs["relay_config"]
    assert "Endpoint = relay.example:51820" in configs["edge_config"]
