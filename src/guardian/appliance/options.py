"""What a seed image is made for, validated before anything is written (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_TENANT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
# Bootstrap tokens are URL-safe text; anything else cannot sit unquoted in an env file.
_TOKEN = re.compile(r"[A-Za-z0-9._~+/=-]{8,512}")
_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_HOST = re.compile(r"\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]{1,253}")
_SSH_KEY = re.compile(
    r"(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|"
    r"sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]+={0,3}( [^\r\n]*)?"
)
_PEM = re.compile(
    r"-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE-----\r?\n?"
)

#: Login user of the installed appliance (SSH keys only; no password).
ADMIN_USER = "guardian"


class SeedError(ValueError):
    """An option the seed image cannot be made with; the message names it."""


@dataclass(frozen=True)
class SeedOptions:
    """Everything the seed encodes. ``validated()`` checks it and fills in defaults."""

    tenant: str
    token: str
    wheel_name: str
    relay: str | None = None
    hostname: str | None = None
    ssh_keys: tuple[str, ...] = field(default_factory=tuple)
    ca_pem: str | None = None

    def validated(self) -> SeedOptions:
        """A copy with defaults filled in; raises :class:`SeedError` naming a bad option."""
        if not _TENANT.fullmatch(self.tenant):
            raise SeedError(
                "--tenant must be the tenant id: 1-128 letters, digits, '.', '_' or '-'"
            )
        if not _TOKEN.fullmatch(self.token):
            raise SeedError(
                "--token must be the site's bootstrap token (8-512 URL-safe characters, "
                "no spaces or quotes)"
            )
        if not re.fullmatch(r"guardian-[^/\\\s]+\.whl", self.wheel_name):
            raise SeedError(f"--wheel must be a guardian-*.whl file, got {self.wheel_name!r}")
        if self.relay is not None:
            check_relay(self.relay)
        hostname = self.hostname or default_hostname(self.tenant)
        check_hostname(hostname)
        for key in self.ssh_keys:
            if not _SSH_KEY.fullmatch(key):
                raise SeedError(f"not an OpenSSH public key line: {key[:40]!r}…")
        if self.ca_pem is not None and not _PEM.search(self.ca_pem):
            raise SeedError("--ca-file must hold a PEM certificate (the relay's CA)")
        return SeedOptions(
            tenant=self.tenant,
            token=self.token,
            wheel_name=self.wheel_name,
            relay=self.relay,
            hostname=hostname,
            ssh_keys=self.ssh_keys,
            ca_pem=self.ca_pem,
        )


def check_relay(address: str) -> None:
    """Raise :class:`SeedError` unless ``address`` is ``HOST:PORT`` (IPv6 in brackets)."""
    host, sep, port = address.rpartition(":")
    if not sep or not _HOST.fullmatch(host) or not port.isdigit() or not 0 < int(port) < 65536:
        raise SeedError(f"--relay must be HOST:PORT (the relay's link address), got {address!r}")


def check_hostname(name: str) -> None:
    """Raise :class:`SeedError` unless ``name`` is a valid lower-case DNS host name."""
    if len(name) > 253 or not all(_LABEL.fullmatch(label) for label in name.split(".")):
        raise SeedError(
            f"--hostname must be a DNS name (labels of a-z, 0-9 and '-', at most 63 "
            f"characters each), got {name!r}"
        )


def default_hostname(tenant: str) -> str:
    """``guardian-edge-<first 8 usable characters of the tenant id>``."""
    slug = re.sub(r"[^a-z0-9]", "", tenant.lower())[:8]
    return f"guardian-edge-{slug}" if slug else "guardian-edge"


def parse_ssh_keys(text: str) -> tuple[str, ...]:
    """The key lines of an ``authorized_keys``-style file (blank lines and # comments dropped)."""
    return tuple(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )
