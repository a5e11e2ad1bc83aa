"""A stand-in OIDC issuer on loopback: RSA keys, a JWKS endpoint, and token minting."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from guardian.control.auth.keys import public_jwk_of


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Issuer:
    """Signs tokens like an external issuer and serves its JWKS (counting the fetches)."""

    def __init__(self) -> None:
        self.keys: dict[str, rsa.RSAPrivateKey] = {}
        self.published: list[str] = []
        self.fetches = 0
        self.url = ""
        self.add_key("k1")

    def add_key(self, kid: str, publish: bool = True) -> None:
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if publish:
            self.published.append(kid)

    def jwks(self) -> dict[str, Any]:
        out = []
        for kid in self.published:
            jwk = public_jwk_of(self.keys[kid].public_key())
            jwk["kid"] = kid
            out.append(jwk)
        return {"keys": out}

    def public_pem(self, kid: str = "k1") -> bytes:
        return (
            self.keys[kid]
            .public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )

    def claims(self, audience: str, **extra: Any) -> dict[str, Any]:
        now = int(time.time())
        base = {"iss": self.url, "aud": audience, "sub": "auth0|u1", "iat": now, "exp": now + 300}
        base.update(extra)
        return {k: v for k, v in base.items() if v is not None}

    def token(self, claims: dict[str, Any], kid: str = "k1") -> str:
        return jwt.encode(claims, self.keys[kid], algorithm="RS256", headers={"kid": kid})

    @staticmethod
    def unsigned(claims: dict[str, Any], kid: str = "k1") -> str:
        header = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": kid}).encode())
        return f"{header}.{_b64(json.dumps(claims).encode())}."

    def hs256_with_public_key(self, claims: dict[str, Any], kid: str = "k1") -> str:
        """The HS/RS confusion attack: HMAC keyed with the issuer's *public* key."""
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
        signing_input = f"{header}.{_b64(json.dumps(claims).encode())}"
        mac = hmac.new(self.public_pem(kid), signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{_b64(mac)}"


@contextmanager
def serve_issuer() -> Iterator[Issuer]:
    """Serve an Issuer's JWKS at ``<url>.well-known/jwks.json`` on 127.0.0.1."""
    issuer = Issuer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/.well-known/jwks.json":
                self.send_error(404)
                return
            issuer.fetches += 1
            body = json.dumps(issuer.jwks()).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    issuer.url = f"http://127.0.0.1:{server.server_address[1]}/"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield issuer
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
