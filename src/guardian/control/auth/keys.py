"""The built-in issuer's RS256 signing keys: sealed in the store, shared by every replica."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from guardian.common.seal import Sealer
from guardian.control.db import Database
from guardian.control.store.tables import SigningKey

KEY_BITS = 2048
RELOAD_SECONDS = 60.0  # how long a replica trusts its copy of the public keys


def _aad(kid: str) -> bytes:
    return b"guardian-signing-key:" + kid.encode()


def thumbprint(public_jwk: dict[str, Any]) -> str:
    """The RFC 7638 thumbprint of an RSA JWK (used as its ``kid``)."""
    canonical = json.dumps(
        {k: public_jwk[k] for k in ("e", "kty", "n")}, separators=(",", ":"), sort_keys=True
    )
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def public_jwk_of(public_key: rsa.RSAPublicKey) -> dict[str, Any]:
    """The public JWK of ``public_key`` with ``kid``, ``use`` and ``alg``."""
    jwk: dict[str, Any] = RSAAlgorithm.to_jwk(public_key, as_dict=True)
    jwk.pop("key_ops", None)  # ``use`` says it; RFC 7517 advises against both
    jwk.update(kid=thumbprint(jwk), use="sig", alg="RS256")
    return jwk


def new_signing_key(session: Session, sealer: Sealer, now: dt.datetime) -> SigningKey:
    """Generate an RS256 key and store it (private part sealed with the master key)."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    jwk = public_jwk_of(private.public_key())
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    row = SigningKey(
        kid=jwk["kid"],
        private_sealed=sealer.seal(pem, _aad(jwk["kid"])),
        public_jwk=jwk,
        created_at=now,
        retired_at=None,
    )
    session.add(row)
    session.flush()
    return row


def rotate_signing_key(session: Session, sealer: Sealer, now: dt.datetime) -> str:
    """Retire the current key(s) and make a new one; returns the new ``kid``.

    Retired keys stay published until the tokens they signed have expired.
    """
    session.execute(
        update(SigningKey).where(SigningKey.retired_at.is_(None)).values(retired_at=now)
    )
    return new_signing_key(session, sealer, now).kid


def published_keys(session: Session, now: dt.datetime, grace_seconds: float) -> list[SigningKey]:
    """Current keys, then keys retired less than ``grace_seconds`` ago, newest first."""
    since = now - dt.timedelta(seconds=grace_seconds)
    return list(
        session.scalars(
            select(SigningKey)
            .where(or_(SigningKey.retired_at.is_(None), SigningKey.retired_at > since))
            .order_by(SigningKey.retired_at.is_not(None), SigningKey.created_at.desc())
        )
    )


@dataclass(frozen=True, slots=True)
class ActiveKey:
    """The key new tokens are signed with."""

    kid: str
    private_key: rsa.RSAPrivateKey


class KeyRing:
    """Signing keys as this replica sees them: the active private key and the public set.

    Reads the store on first use, after ``RELOAD_SECONDS`` and on an unknown ``kid``, so a
    key made or rotated by another replica is picked up.
    """

    def __init__(
        self,
        db: Database,
        sealer: Sealer,
        *,
        grace_seconds: float,
        clock: Callable[[], float],
    ) -> None:
        self._db = db
        self._sealer = sealer
        self._grace = grace_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._public: dict[str, rsa.RSAPublicKey] = {}
        self._loaded_at: float | None = None
        self._private: dict[str, rsa.RSAPrivateKey] = {}

    def _now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self._clock(), dt.UTC)

    def active(self) -> ActiveKey:
        """The newest unretired key, created on first use."""
        with self._db.system() as session:
            row = session.scalars(
                select(SigningKey)
                .where(SigningKey.retired_at.is_(None))
                .order_by(SigningKey.created_at.desc())
                .limit(1)
            ).first()
            if row is None:
                row = new_signing_key(session, self._sealer, self._now())
            kid, sealed = row.kid, row.private_sealed
        with self._lock:
            private = self._private.get(kid)
        if private is None:
            loaded = serialization.load_pem_private_key(
                self._sealer.open(sealed, _aad(kid)), password=None
            )
            assert isinstance(loaded, rsa.RSAPrivateKey)
            private = loaded
            with self._lock:
                self._private[kid] = private
        return ActiveKey(kid, private)

    def jwks(self) -> dict[str, Any]:
        """The JSON Web Key Set to publish (current and recently retired public keys)."""
        with self._db.system() as session:
            keys = published_keys(session, self._now(), self._grace)
            return {"keys": [dict(k.public_jwk) for k in keys]}

    def _reload(self) -> None:
        jwks = self.jwks()
        public: dict[str, rsa.RSAPublicKey] = {}
        for jwk in jwks["keys"]:
            key = RSAAlgorithm.from_jwk(jwk)
            if isinstance(key, rsa.RSAPublicKey):
                public[jwk["kid"]] = key
        with self._lock:
            self._public = public
            self._loaded_at = self._clock()

    def public_key(self, kid: str) -> rsa.RSAPublicKey | None:
        """The published public key ``kid``, or None."""
        with self._lock:
            fresh = self._loaded_at is not None and self._clock() - self._loaded_at < RELOAD_SECONDS
            key = self._public.get(kid)
        if key is not None and fresh:
            return key
        self._reload()
        with self._lock:
            return self._public.get(kid)
