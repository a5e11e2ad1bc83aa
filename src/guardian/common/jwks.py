"""Signing keys published as a JWKS over HTTP, cached and refetched on rotation.

Used by the control plane (an external OIDC issuer's keys) and by the relay (the control
plane's keys, which sign playback tokens).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

logger = logging.getLogger(__name__)
MIN_REFETCH_SECONDS = 30.0  # an unknown kid refetches at most this often
FETCH_TIMEOUT_SECONDS = 5.0


def parse_jwks(document: Any) -> dict[str, rsa.RSAPublicKey]:
    """The RSA signing keys of a JWKS document by ``kid`` (other keys are skipped)."""
    keys: dict[str, rsa.RSAPublicKey] = {}
    entries = document.get("keys") if isinstance(document, dict) else None
    for jwk in entries if isinstance(entries, list) else []:
        if not isinstance(jwk, dict) or jwk.get("kty") != "RSA" or not jwk.get("kid"):
            continue
        if jwk.get("use", "sig") != "sig" or jwk.get("alg", "RS256") != "RS256":
            continue
        try:
            key = RSAAlgorithm.from_jwk(jwk)
        except Exception:  # a malformed entry must not hide the good ones
            logger.warning("skipping a malformed JWK", extra={"kid": str(jwk.get("kid"))})
            continue
        if isinstance(key, rsa.RSAPublicKey):
            keys[str(jwk["kid"])] = key
    return keys


class JwksCache:
    """The issuer's public keys: fetched on demand, trusted for ``cache_seconds``.

    An unknown ``kid`` (the issuer rotated its keys) triggers a refetch, at most once per
    ``min_refetch_seconds`` so a stream of forged kids cannot hammer the issuer.
    """

    def __init__(
        self,
        url: str,
        *,
        cache_seconds: float,
        clock: Callable[[], float],
        min_refetch_seconds: float = MIN_REFETCH_SECONDS,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url
        self._cache_seconds = cache_seconds
        self._min_refetch = min_refetch_seconds
        self._clock = clock
        self._transport = transport
        self._lock = threading.Lock()
        self._keys: dict[str, rsa.RSAPublicKey] = {}
        self._fetched_at: float | None = None
        self.fetches = 0  # how many times the JWKS was requested (for tests and metrics)

    def _fetch(self) -> None:
        self.fetches += 1
        self._fetched_at = self._clock()
        try:
            with httpx.Client(timeout=FETCH_TIMEOUT_SECONDS, transport=self._transport) as client:
                response = client.get(self.url, headers={"Accept": "application/json"})
                response.raise_for_status()
                self._keys = parse_jwks(response.json())
        except (httpx.HTTPError, ValueError) as exc:
            # Keep the keys we had: an issuer outage must not log everyone out at once.
            logger.warning("could not fetch the JWKS", extra={"url": self.url, "error": str(exc)})

    def key(self, kid: str) -> rsa.RSAPublicKey | None:
        """The public key ``kid``, or None if the issuer does not publish it."""
        with self._lock:
            now = self._clock()
            stale = self._fetched_at is None or now - self._fetched_at >= self._cache_seconds
            if stale:
                self._fetch()
            elif kid not in self._keys and now - (self._fetched_at or 0) >= self._min_refetch:
                self._fetch()
            return self._keys.get(kid)
