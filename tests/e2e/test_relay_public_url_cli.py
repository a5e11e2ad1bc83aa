"""``guardian control relay add --public-url``: where browsers reach the relay's media."""

from __future__ import annotations

import json
from pathlib import Path

from tests.e2e.cli import run_cli


def test_relay_add_stores_and_lists_the_public_url_and_refuses_a_bad_one(tmp_path: Path) -> None:
    data_dir = ["--data-dir", str(tmp_path / "control")]
    added = run_cli(
        "control", "relay", "add", "eu-1", "--url", "https://relay.example:8731",
        "--public-url", "https://media.relay.example/", *data_dir, "--json",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    bad = run_cli(
        "control", "relay", "add", "eu-2", "--url", "https://relay.example",
        "--public-url", "media.relay.example", *data_dir, "--json",
    )  # fmt: skip
    assert bad.returncode == 2
    assert "public url" in bad.stderr
    listed = run_cli("control", "relay", "list", *data_dir, "--json")
    relays = json.loads(listed.stdout)["relays"]
    # The refused relay was not added either (one transaction).
    assert [(r["name"], r["public_url"]) for r in relays] == [
        ("eu-1", "https://media.relay.example")
    ]


def test_relay_set_moves_a_relay_and_keeps_it_on_a_bad_address(tmp_path: Path) -> None:
    data_dir = ["--data-dir", str(tmp_path / "control")]
    added = run_cli("control", "relay", "add", "eu-1", "--url", "https://old.example:8731",
                    *data_dir, "--json")  # fmt: skip
    assert added.returncode == 0, added.stderr
    moved = run_cli(
        "control", "relay", "set", "eu-1", "--url", "https://new.example:8731",
        "--public-url", "https://media.new.example", *data_dir, "--json",
    )  # fmt: skip
    assert moved.returncode == 0, moved.stderr
    assert json.loads(moved.stdout)["public_url"] == "https://media.new.example"
    bad = run_cli("control", "relay", "set", "eu-1", "--url", "ftp://x", *data_dir, "--json")
    assert bad.returncode == 2 and "http(s) URL" in bad.stderr
    nothing = run_cli("control", "relay", "set", "eu-1", *data_dir)
    assert nothing.returncode == 2 and "nothing to change" in nothing.stderr
    missing = run_cli("control", "relay", "set", "eu-9", "--url", "https://x.example", *data_dir)
    assert missing.returncode == 1 and "no relay" in missing.stderr
    relays = json.loads(run_cli("control", "relay", "list", *data_dir, "--json").stdout)["relays"]
    assert [(r["url"], r["public_url"]) for r in relays] == [
        ("https://new.example:8731", "https://media.new.example")
    ]
