"""WireGuard keys (RFC 7748 X25519, ``wg genkey`` format) and the wg-quick configs of a pair."""

from __future__ import annotations

import base64

import pytest

from guardian.relay.wireguard import (
    EdgePeer,
    WireGuardError,
    clamp,
    decode_key,
    edge_config,
    format_endpoint,
    generate_keypair,
    generate_preshared_key,
    public_key_of,
    relay_config,
)

# RFC 7748 section 6.1: Alice's private scalar and public key.
RFC_PRIVATE = bytes.fromhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
RFC_PUBLIC = bytes.fromhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")

RELAY = generate_keypair()
EDGE = generate_keypair()


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def test_public_key_derivation_matches_the_rfc_7748_vector() -> None:
    assert public_key_of(b64(RFC_PRIVATE)) == b64(RFC_PUBLIC)


def test_generated_keys_are_32_bytes_base64_and_clamped() -> None:
    pair = generate_keypair()

    private, public = base64.b64decode(pair.private_key), base64.b64decode(pair.public_key)
    assert len(pair.private_key) == len(pair.public_key) == 44
    assert len(private) == len(public) == 32
    assert clamp(private) == private
    assert public_key_of(pair.private_key) == pair.public_key
    assert generate_keypair().private_key != pair.private_key


def test_clamp_sets_the_rfc_7748_bits() -> None:
    clamped = clamp(b"\xff" * 32)
    assert clamped[0] == 0xF8 and clamped[31] == 0x7F
    assert clamp(b"\x00" * 32)[31] == 0x40


def test_preshared_key_is_32_bytes() -> None:
    assert len(decode_key(generate_preshared_key())) == 32


@pytest.mark.parametrize("key", ["", "not base64!", b64(b"x" * 31), b64(b"x" * 33)])
def test_bad_keys_are_refused(key: str) -> None:
    with pytest.raises(WireGuardError):
        decode_key(key)


def test_relay_config_has_interface_and_one_peer_per_edge() -> None:
    text = relay_config(
        private_key=RELAY.private_key,
        address="10.77.0.1/24",
        listen_port=51999,
        peers=[EdgePeer(public_key=EDGE.public_key, address="10.77.0.2/24", name="front door")],
    )

    assert text == (
        "[Interface]\n"
        "Address = 10.77.0.1/24\n"
        "ListenPort = 51999\n"
        f"PrivateKey = {RELAY.private_key}\n"
        "\n"
        "[Peer]\n"
        "# front door\n"
        f"PublicKey = {EDGE.public_key}\n"
        "AllowedIPs = 10.77.0.2/32\n"
    )


def test_edge_config_dials_the_relay_with_keepalive() -> None:
    text = edge_config(
        private_key=EDGE.private_key,
        address="10.77.0.2/24",
        relay_public_key=RELAY.public_key,
        relay_address="10.77.0.1/24",
        endpoint_host="relay.example.com",
        endpoint_port=51999,
    )

    assert text == (
        "[Interface]\n"
        "Address = 10.77.0.2/24\n"
        f"PrivateKey = {EDGE.private_key}\n"
        "\n"
        "[Peer]\n"
        f"PublicKey = {RELAY.public_key}\n"
        "Endpoint = relay.example.com:51999\n"
        "AllowedIPs = 10.77.0.1/32\n"
        "PersistentKeepalive = 25\n"
    )


def test_pair_configs_reference_each_others_public_keys() -> None:
    psk = generate_preshared_key()
    relay_text = relay_config(
        private_key=RELAY.private_key,
        address="fd00:77::1/64",
        peers=[EdgePeer(EDGE.public_key, "fd00:77::2/64", preshared_key=psk)],
    )
    edge_text = edge_config(
        private_key=EDGE.private_key,
        address="fd00:77::2/64",
        relay_public_key=RELAY.public_key,
        relay_address="fd00:77::1/64",
        endpoint_host="2001:db8::5",
        keepalive=0,
        preshared_key=psk,
    )

    assert f"PublicKey = {EDGE.public_key}" in relay_text
    assert f"PublicKey = {RELAY.public_key}" in edge_text
    assert f"PresharedKey = {psk}" in relay_text and f"PresharedKey = {psk}" in edge_text
    assert "AllowedIPs = fd00:77::2/128" in relay_text
    assert "AllowedIPs = fd00:77::1/128" in edge_text
    assert "Endpoint = [2001:db8::5]:51820" in edge_text
    assert "ListenPort = 51820" in relay_text
    assert "PersistentKeepalive" not in edge_text
    assert EDGE.private_key not in relay_text and RELAY.private_key not in edge_text


def test_peer_name_cannot_inject_config_lines() -> None:
    text = relay_config(
        private_key=RELAY.private_key,
        address="10.77.0.1/24",
        peers=[EdgePeer(EDGE.public_key, "10.77.0.2", name="x\nAllowedIPs = 0.0.0.0/0")],
    )
    assert "\nAllowedIPs = 0.0.0.0/0" not in text
    assert "AllowedIPs = 10.77.0.2/32" in text


@pytest.mark.parametrize(
    ("relay", "edge"),
    [
        ("10.77.0.1/24", "10.77.0.1/24"),  # same address
        ("10.77.0.1/24", "fd00::2/64"),  # mixed families
        ("10.77.0.0/24", "10.77.0.2/24"),  # network address
        ("10.77.0.1/24", "10.77.0.255/24"),  # broadcast address
        ("10.77.0.1/33", "10.77.0.2/24"),  # bad prefix
        ("relay", "10.77.0.2/24"),  # not an address
    ],
)
def test_bad_address_pairs_are_refused(relay: str, edge: str) -> None:
    with pytest.raises(WireGuardError):
        relay_config(
            private_key=RELAY.private_key, address=relay, peers=[EdgePeer(EDGE.public_key, edge)]
        )
    with pytest.raises(WireGuardError):
        edge_config(
            private_key=EDGE.private_key,
            address=edge,
            relay_public_key=RELAY.public_key,
            relay_address=relay,
            endpoint_host="relay.example.com",
        )


def test_two_edges_cannot_share_an_address() -> None:
    peers = [EdgePeer(EDGE.public_key, "10.77.0.2"), EdgePeer(RELAY.public_key, "10.77.0.2")]
    with pytest.raises(WireGuardError, match="used twice"):
        relay_config(private_key=RELAY.private_key, address="10.77.0.1/24", peers=peers)


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        ("relay.example.com", 51820, "relay.example.com:51820"),
        ("192.0.2.7", 1, "192.0.2.7:1"),
        ("[2001:db8::1]", 65535, "[2001:db8::1]:65535"),
    ],
)
def test_endpoint_formatting(host: str, port: int, expected: str) -> None:
    assert format_endpoint(host, port) == expected


@pytest.mark.parametrize(
    ("host", "port"),
    [("relay.example.com", 0), ("relay.example.com", 65536), ("bad host", 1), ("a\nb", 1)],
)
def test_bad_endpoints_are_refused(host: str, port: int) -> None:
    with pytest.raises(WireGuardError):
        format_endpoint(host, port)


def test_bad_listen_port_is_refused() -> None:
    with pytest.raises(WireGuardError, match="port"):
        relay_config(private_key=RELAY.private_key, address="10.77.0.1/24", peers=[], listen_port=0)
