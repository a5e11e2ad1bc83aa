"""The control plane's public signing keys as the relay sees them (JWKS over HTTP, cached).

Fetched on first use and after ``cache_seconds``; an unknown ``kid`` (the control plane
rotated its key) refetches at most once per ``MIN_REFETCH_S``, so forged kids cannot
make the relay hammer the control plane. A failed fetch keeps the keys already known.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

logger = logging.getLogger(__name__)
MIN_REFETCH_S = 10.0
FETCH_TIMEOUT_S = 5.0


def parse_jwks(document: Any) -> dict[str, rsa.RSAPublicKey]:
    """The RS256 signing keys of a JWKS document by ``kid`` (anything else is skipped)."""
    keys: dict[str, rsa.RSAPublicKey] = {}
    entries = document.get("keys") if isinstance(document, dict) else None
    for jwk in entries if isinstance(entries, list) else []:
        if not isinstance(jwk, dict) or jwk.get("kty") != "RSA" or not jwk.get("kid"):
            continue
        if jwk.get("use", "sig") != "sig" or jwk.get("alg", "RS256") != "RS256":
            continue
        try:
            key = RSAAlgorithm.from_jwk(jwk)
        except Exception:  # one malformed entry must not hide the good ones
            logger.warning("skipping a malformed JWK", extra={"kid": str(jwk.get("kid"))})
            continue
        if isinstance(key, rsa.RSAPublicKey):
            keys[str(jwk["kid"])] = key
    return keys


class ControlKeys:
    """``key(kid)`` for playback-token verification, from the control plane's JWKS URL."""

    def __init__(
        self,
        url: str,
        *,
        cache_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._transport = transport
        self._lock = threading.Lock()
        self._keys: dict[str, rsa.RSAPublicKey] = {}
        self._fetched_at: float | None = None

    def _fetch(self) -> None:
        self._fetched_at = self._clock()
        try:
            with httpx.Client(timeout=FETCH_TIMEOUT_S, transport=self._transport) as client:
                response = client.get(self.url, headers={"Accept": "application/json"})
                response.raise_for_status()
                self._keys = parse_jwks(response.json())
        except (httpx.HTTPError, ValueError) as exc:
            logger.warning(
                "could not fetch the control plane's JWKS",
                extra={"url": self.url, "error": str(exc)},
            )

    def key(self, kid: str) -> rsa.RSAPublicKey | None:
        """The public key ``kid``, or None when the control plane does not publish it."""
        with self._lock:
            now = self._clock()
            fetched = self._fetched_at
            if fetched is None or now - fetched >= self._cache_seconds:
                self._fetch()
            elif kid not in self._keys and now - fetched >= MIN_REFETCH_S:
                self._fetch()
            return self._keys.get(kid)
