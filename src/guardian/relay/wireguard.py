"""WireGuard keys and wg-quick configs for the optional relay ⇄ edge underlay (pure, no I/O)."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

KEY_BYTES = 32
DEFAULT_LISTEN_PORT = 51820
DEFAULT_KEEPALIVE = 25
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*\.?")

Interface = ipaddress.IPv4Interface | ipaddress.IPv6Interface


class WireGuardError(ValueError):
    """An invalid key, address, port or host for a WireGuard config."""


@dataclass(frozen=True, slots=True)
class KeyPair:
    """A WireGuard key pair, both keys base64 as ``wg genkey`` / ``wg pubkey`` print them."""

    private_key: str
    public_key: str


@dataclass(frozen=True, slots=True)
class EdgePeer:
    """One edge as a peer of the relay: its public key and its tunnel address."""

    public_key: str
    address: str
    name: str = ""
    preshared_key: str | None = None


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def decode_key(key: str) -> bytes:
    """The 32 raw bytes of a base64 WireGuard key; :class:`WireGuardError` if it is not one."""
    try:
        raw = base64.b64decode(key.strip(), validate=True)
    except binascii.Error as exc:
        raise WireGuardError("a WireGuard key must be base64") from exc
    if len(raw) != KEY_BYTES:
        raise WireGuardError(f"a WireGuard key is {KEY_BYTES} bytes, got {len(raw)}")
    return raw


def _key(key: str) -> str:
    return _b64(decode_key(key))


def _optional_key(key: str | None) -> str:
    return "" if key is None else _key(key)


def clamp(raw: bytes) -> bytes:
    """Clamp 32 random bytes into an X25519 private scalar (RFC 7748), as ``wg genkey`` does."""
    scalar = bytearray(raw)
    scalar[0] &= 248
    scalar[31] &= 127
    scalar[31] |= 64
    return bytes(scalar)


def public_key_of(private_key: str) -> str:
    """The public key of a base64 private key (``wg pubkey``)."""
    key = X25519PrivateKey.from_private_bytes(decode_key(private_key))
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return _b64(raw)


def generate_keypair() -> KeyPair:
    """A fresh key pair (``wg genkey | tee private | wg pubkey``)."""
    private_key = _b64(clamp(os.urandom(KEY_BYTES)))
    return KeyPair(private_key=private_key, public_key=public_key_of(private_key))


def generate_preshared_key() -> str:
    """A random symmetric key for a peer pair (``wg genpsk``)."""
    return _b64(os.urandom(KEY_BYTES))


def parse_interface(address: str) -> Interface:
    """A tunnel address with its prefix (``10.77.0.1/24``; a bare address means one host)."""
    try:
        interface = ipaddress.ip_interface(address.strip())
    except ValueError as exc:
        raise WireGuardError(f"invalid tunnel address {address!r}") from exc
    network = interface.network
    if network.num_addresses > 2 and interface.ip in (
        network.network_address,
        network.broadcast_address,
    ):
        raise WireGuardError(f"{address} is not a host address of its network")
    return interface


def host_route(interface: Interface) -> str:
    """The single-host AllowedIPs entry of an address (``/32`` or ``/128``)."""
    return str(ipaddress.ip_network(interface.ip))


def check_port(port: int) -> int:
    """``port`` if it is a valid UDP port."""
    if not 1 <= port <= 65535:
        raise WireGuardError(f"invalid port {port}")
    return port


def format_endpoint(host: str, port: int) -> str:
    """``host:port`` for an Endpoint line, bracketing IPv6 addresses."""
    check_port(port)
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        if not _HOSTNAME.fullmatch(host):
            raise WireGuardError(f"invalid endpoint host {host!r}") from None
        return f"{host}:{port}"
    return f"[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}"


def _comment(name: str) -> str:
    # A name must not be able to inject config lines.
    return "# " + " ".join(name.split()) if name.strip() else ""


def _render(sections: Sequence[Sequence[tuple[str, str]]]) -> str:
    blocks = ["\n".join(f"{k} = {v}" if k else v for k, v in lines if v) for lines in sections]
    return "\n\n".join(blocks) + "\n"


def relay_config(
    *,
    private_key: str,
    address: str,
    peers: Sequence[EdgePeer],
    listen_port: int = DEFAULT_LISTEN_PORT,
) -> str:
    """The relay's wg-quick config: its interface and one ``[Peer]`` per edge (edge /32 only)."""
    relay = parse_interface(address)
    check_port(listen_port)
    sections: list[list[tuple[str, str]]] = [
        [
            ("", "[Interface]"),
            ("Address", str(relay)),
            ("ListenPort", str(listen_port)),
            ("PrivateKey", _key(private_key)),
        ]
    ]
    seen: set[str] = {str(relay.ip)}
    for peer in peers:
        edge = parse_interface(peer.address)
        if edge.version != relay.version:
            raise WireGuardError(f"{peer.address} and {address} mix IPv4 and IPv6")
        if str(edge.ip) in seen:
            raise WireGuardError(f"tunnel address {edge.ip} is used twice")
        seen.add(str(edge.ip))
        sections.append(
            [
                ("", "[Peer]"),
                ("", _comment(peer.name)),
                ("PublicKey", _key(peer.public_key)),
                ("PresharedKey", _optional_key(peer.preshared_key)),
                ("AllowedIPs", host_route(edge)),
            ]
        )
    return _render(sections)


def edge_config(
    *,
    private_key: str,
    address: str,
    relay_public_key: str,
    relay_address: str,
    endpoint_host: str,
    endpoint_port: int = DEFAULT_LISTEN_PORT,
    keepalive: int = DEFAULT_KEEPALIVE,
    preshared_key: str | None = None,
) -> str:
    """The edge's wg-quick config: it dials the relay and routes only the relay's /32 through it.

    The keepalive keeps NAT mappings open so the relay can reach an edge behind a router.
    """
    edge, relay = parse_interface(address), parse_interface(relay_address)
    if edge.version != relay.version:
        raise WireGuardError(f"{address} and {relay_address} mix IPv4 and IPv6")
    if edge.ip == relay.ip:
        raise WireGuardError("the edge and the relay need different tunnel addresses")
    if not 0 <= keepalive <= 65535:
        raise WireGuardError(f"invalid keepalive {keepalive}")
    psk = _optional_key(preshared_key)
    return _render(
        [
            [("", "[Interface]"), ("Address", str(edge)), ("PrivateKey", _key(private_key))],
            [
                ("", "[Peer]"),
                ("PublicKey", _key(relay_public_key)),
                ("PresharedKey", psk),
                ("Endpoint", format_endpoint(endpoint_host, endpoint_port)),
                ("AllowedIPs", host_route(relay)),
                ("PersistentKeepalive", str(keepalive) if keepalive else ""),
            ],
        ]
    )
