"""Input rules of relays, sites and camera labels, and token generation (pure)."""

from __future__ import annotations

import pytest

from guardian.common.api_errors import BadRequest
from guardian.control.tenancy.cameras import LABELS_MAX, clean_labels
from guardian.control.tenancy.relays import validate_relay
from guardian.control.tenancy.sites import clean_name
from guardian.control.tenancy.tokens import new_token, sha256_hex


def test_relay_needs_a_name_and_an_http_url() -> None:
    assert validate_relay(" eu-1 ", " https://relay.example:8443/ ") == (
        "eu-1",
        "https://relay.example:8443/",
    )
    for name, url in [("", "https://x"), ("a" * 129, "https://x"), ("r", "ftp://x"), ("r", "x")]:
        with pytest.raises(BadRequest):
            validate_relay(name, url)


def test_site_names_are_stripped_and_bounded() -> None:
    assert clean_name("  Shop ") == "Shop"
    with pytest.raises(BadRequest):
        clean_name("   ")
    with pytest.raises(BadRequest):
        clean_name("s" * 129)


def test_labels_are_stripped_deduplicated_and_bounded() -> None:
    assert clean_labels([" door ", "Door", "till"]) == ["door", "till"]
    with pytest.raises(BadRequest):
        clean_labels([""])
    with pytest.raises(BadRequest):
        clean_labels(["x" * 33])
    with pytest.raises(BadRequest):
        clean_labels([f"l{i}" for i in range(LABELS_MAX + 1)])


def test_tokens_are_random_prefixed_and_hashed() -> None:
    a, b = new_token("grl"), new_token("grl")
    assert a != b and a.startswith("grl_") and len(a) > 40
    assert sha256_hex(a) == sha256_hex(a) != sha256_hex(b)
    assert len(sha256_hex(a)) == 64 and a not in sha256_hex(a)
