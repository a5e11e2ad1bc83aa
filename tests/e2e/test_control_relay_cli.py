"""``guardian control relay add|assign|list`` in subprocesses, against a real store."""

from __future__ import annotations

import json
from pathlib import Path

from guardian.control.api.deps import token_sha256
from guardian.control.context import build_context
from guardian.control.store.tables import Relay, RelayAssignment
from tests.control_fixtures import control_settings
from tests.e2e.cli import run_cli


def _json(*args: str) -> dict[str, object]:
    got = run_cli("control", *args, "--json")
    assert got.returncode == 0, got.stderr
    data = json.loads(got.stdout)
    assert isinstance(data, dict)
    return data


def test_relay_add_assign_list(tmp_path: Path) -> None:
    data_dir = ["--data-dir", str(tmp_path / "control")]
    tenant = _json("tenant", "create", "acme", *data_dir)["tenant_id"]
    added = _json("relay", "add", "eu-1", "--url", "https://relay.example", *data_dir)
    assert added["name"] == "eu-1" and str(added["token"]).startswith("grl_")

    assigned = _json("relay", "assign", "eu-1", "--tenant", str(tenant), *data_dir)
    assert assigned["relay_id"] == added["relay_id"]
    listed = _json("relay", "list", *data_dir)["relays"]
    assert isinstance(listed, list)
    assert [(r["name"], r["url"], r["tenants"]) for r in listed] == [
        ("eu-1", "https://relay.example", [tenant])
    ]

    # The token is not stored, only its SHA-256; the assignment is one row.
    ctx = build_context(control_settings(tmp_path))
    try:
        with ctx.db.system() as s:
            relay = s.get(Relay, added["relay_id"])
            assert relay is not None and relay.token_sha256 == token_sha256(str(added["token"]))
            assignment = s.get(RelayAssignment, tenant)
            assert assignment is not None and assignment.relay_id == relay.id
    finally:
        ctx.db.dispose()


def test_relay_cli_errors_are_clear(tmp_path: Path) -> None:
    data_dir = ["--data-dir", str(tmp_path / "control")]
    _json("relay", "add", "eu-1", "--url", "https://relay.example", *data_dir)
    again = run_cli("control", "relay", "add", "eu-1", "--url", "https://x.example", *data_dir)
    assert again.returncode == 1 and "exists already" in again.stderr
    bad_url = run_cli("control", "relay", "add", "eu-2", "--url", "nope", *data_dir)
    assert bad_url.returncode == 2 and "http(s) URL" in bad_url.stderr
    missing = run_cli("control", "relay", "assign", "ghost", "--tenant", "t", *data_dir)
    assert missing.returncode == 1 and "no relay 'ghost'" in missing.stderr
    no_tenant = run_cli("control", "relay", "assign", "eu-1", "--tenant", "t", *data_dir)
    assert no_tenant.returncode == 1 and "no tenant t" in no_tenant.stderr
    assert "grl_" not in again.stderr + again.stdout
