"""Who is calling: a user of one tenant (from an access token) or a relay (from its token)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

Role = Literal["admin", "viewer"]
ROLES: tuple[Role, ...] = ("admin", "viewer")


@dataclass(frozen=True, slots=True)
class Principal:
    """A verified user: their tenant and role decide everything they may do."""

    user_id: str
    tenant_id: str
    role: Role
    email: str | None = None
    issuer: str = "builtin"  # builtin | the external issuer's URL

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True, slots=True)
class RelayPrincipal:
    """A relay calling the control plane (ingest, telemetry)."""

    relay_id: str
    name: str


class TokenVerifier(Protocol):
    """Turns a bearer access token into a Principal or raises ``Unauthorized``."""

    def cached(self, token: str) -> Principal | None:
        """The principal if ``token`` was verified moments ago, without I/O; else None."""
        ...

    def verify(self, token: str) -> Principal:
        """The principal behind ``token`` (may read the store); ``Unauthorized`` if none."""
        ...

    def refresh_due(self, token: str) -> bool:
        """True, once, when a cached ``token`` should be verified again in the background."""
        ...

    def refresh(self, token: str) -> None:
        """Verify ``token`` again and cache the outcome (blocking: run it in a thread)."""
        ...
