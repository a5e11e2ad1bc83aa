"""An external OIDC issuer's signing keys: where its JWKS is (``guardian.common.jwks`` caches
them)."""

from __future__ import annotations

from guardian.common.jwks import JwksCache, parse_jwks

__all__ = ["JwksCache", "jwks_url", "parse_jwks"]


def jwks_url(issuer: str, configured: str | None) -> str:
    """The JWKS location: the configured one or ``<issuer>/.well-known/jwks.json``."""
    return configured or issuer.rstrip("/") + "/.well-known/jwks.json"
