"""Token maths without I/O: access-token claims, time checks, refresh-token secrets."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from typing import Any

from guardian.common.api_errors import Unauthorized

ALGORITHM = "RS256"  # the only algorithm accepted, for our tokens and external ones
REFRESH_BYTES = 32  # 256-bit refresh tokens


class InvalidToken(Unauthorized):
    """An access token that cannot be accepted; the message says why (never the token)."""

    code = "invalid_token"

    def __init__(self, message: str) -> None:
        description = message.replace('"', "'")
        challenge = f'Bearer error="invalid_token", error_description="{description}"'
        super().__init__(message, headers={"WWW-Authenticate": challenge})


def access_claims(
    *,
    issuer: str,
    audience: str,
    user_id: str,
    tenant_id: str,
    role: str,
    now: float,
    lifetime_seconds: int,
) -> dict[str, Any]:
    """The claims of a built-in access token."""
    issued = int(now)
    return {
        "iss": issuer,
        "aud": audience,
        "sub": user_id,
        "tid": tenant_id,
        "role": role,
        "iat": issued,
        "nbf": issued,
        "exp": issued + lifetime_seconds,
        "jti": uuid.uuid4().hex,
    }


def _number(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidToken(f"claim {name} must be a number")
    return float(value)


def check_times(claims: dict[str, Any], now: float, leeway: float) -> None:
    """Raise ``InvalidToken`` unless ``now`` is within the token's exp/nbf/iat (± leeway)."""
    exp = _number(claims, "exp")
    if exp is None:
        raise InvalidToken("token has no exp claim")
    if now > exp + leeway:
        raise InvalidToken("token has expired")
    nbf = _number(claims, "nbf")
    if nbf is not None and now + leeway < nbf:
        raise InvalidToken("token is not valid yet")
    iat = _number(claims, "iat")
    if iat is not None and now + leeway < iat:
        raise InvalidToken("token was issued in the future")


def new_refresh_token() -> str:
    """A fresh random refresh token (URL-safe text)."""
    return secrets.token_urlsafe(REFRESH_BYTES)


def digest(token: str) -> str:
    """The SHA-256 hex digest under which a token is stored."""
    return hashlib.sha256(token.encode()).hexdigest()
