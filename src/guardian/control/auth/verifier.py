"""Access-token verification: built-in RS256 tokens and, if configured, an OIDC issuer's."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from guardian.common.api_errors import ApiError
from guardian.control.auth.keys import KeyRing
from guardian.control.auth.oidc import JwksCache, jwks_url
from guardian.control.auth.principal import ROLES, Principal, Role
from guardian.control.auth.tokens import ALGORITHM, InvalidToken, check_times
from guardian.control.auth.users import create_user, find_by_subject
from guardian.control.config import AuthSettings
from guardian.control.db import Database
from guardian.control.store.tables import Tenant, User

logger = logging.getLogger(__name__)
BUILTIN = "builtin"
_REQUIRED = ["exp", "iss", "aud", "sub"]


def decode_rs256(
    token: str,
    key: rsa.RSAPublicKey,
    *,
    issuer: str,
    audience: str,
    now: float,
    leeway: float,
) -> dict[str, Any]:
    """The verified claims of ``token`` (RS256 only) or ``InvalidToken`` saying why."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=audience,
            issuer=issuer,
            options={
                "require": _REQUIRED,
                "verify_exp": False,  # checked below against the injected clock
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
    except jwt.MissingRequiredClaimError as exc:
        raise InvalidToken(f"token has no {exc.claim} claim") from exc
    except jwt.InvalidAudienceError as exc:
        raise InvalidToken("token is for another audience") from exc
    except jwt.InvalidIssuerError as exc:
        raise InvalidToken("token is from another issuer") from exc
    except jwt.InvalidSignatureError as exc:
        raise InvalidToken("token signature does not verify") from exc
    except jwt.PyJWTError as exc:
        raise InvalidToken("token is malformed") from exc
    check_times(claims, now, leeway)
    return claims


def _header(token: str) -> dict[str, Any]:
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise InvalidToken("token is malformed") from exc
    if header.get("alg") != ALGORITHM:
        raise InvalidToken(f"only {ALGORITHM} tokens are accepted")
    if not isinstance(header.get("kid"), str) or not header["kid"]:
        raise InvalidToken("token has no kid")
    header["iss"] = claims.get("iss")
    return header


class Verifier:
    """Turns a bearer token into a Principal (the ``TokenVerifier`` the API uses).

    Built-in tokens are checked against our key ring and our user table (a disabled user's
    tokens stop working at once; the stored role wins). External tokens are checked against
    the issuer's JWKS; their ``sub`` maps to ``users.subject``, and an unknown subject is
    provisioned from the tenant and role claims when both are present and valid.
    """

    def __init__(
        self,
        db: Database,
        settings: AuthSettings,
        keyring: KeyRing,
        clock: Callable[[], float],
        jwks: JwksCache | None = None,
    ) -> None:
        self._db = db
        self._settings = settings
        self._keys = keyring
        self._clock = clock
        self._jwks = jwks
        if jwks is None and settings.oidc_issuer:
            self._jwks = JwksCache(
                jwks_url(settings.oidc_issuer, settings.oidc_jwks_url),
                cache_seconds=settings.jwks_cache_seconds,
                clock=clock,
            )

    def verify(self, token: str) -> Principal:
        header = _header(token)
        issuer = header["iss"]
        settings = self._settings
        if settings.builtin_enabled and issuer == settings.issuer:
            return self._builtin(token, header["kid"])
        if settings.oidc_issuer and self._jwks is not None and issuer == settings.oidc_issuer:
            return self._external(token, header["kid"], self._jwks)
        raise InvalidToken("token is from an unknown issuer")

    def _builtin(self, token: str, kid: str) -> Principal:
        key = self._keys.public_key(kid)
        if key is None:
            raise InvalidToken("token is signed with an unknown key")
        claims = decode_rs256(
            token,
            key,
            issuer=self._settings.issuer,
            audience=self._settings.audience,
            now=self._clock(),
            leeway=self._settings.leeway_seconds,
        )
        with self._db.system() as session:
            user = session.get(User, str(claims["sub"]))
            if user is None or user.tenant_id != claims.get("tid"):
                raise InvalidToken("token's user does not exist")
            if user.disabled_at is not None:
                raise InvalidToken("user is disabled")
            return Principal(user.id, user.tenant_id, _role(user.role), user.email, BUILTIN)

    def _external(self, token: str, kid: str, jwks: JwksCache) -> Principal:
        key = jwks.key(kid)
        if key is None:
            raise InvalidToken("token is signed with an unknown key")
        settings = self._settings
        assert settings.oidc_issuer is not None
        claims = decode_rs256(
            token,
            key,
            issuer=settings.oidc_issuer,
            audience=settings.oidc_audience or settings.audience,
            now=self._clock(),
            leeway=settings.leeway_seconds,
        )
        subject = str(claims["sub"])
        user = self._user_of(subject, claims)
        if user.disabled_at is not None:
            raise InvalidToken("user is disabled")
        return Principal(
            user.id, user.tenant_id, _role(user.role), user.email, settings.oidc_issuer
        )

    def _user_of(self, subject: str, claims: dict[str, Any]) -> User:
        with self._db.system() as session:
            user = find_by_subject(session, subject)
            if user is not None:
                return user
        tenant_id = claims.get(self._settings.oidc_tenant_claim)
        role = claims.get(self._settings.oidc_role_claim)
        if not isinstance(tenant_id, str) or role not in ROLES:
            raise InvalidToken("unknown user and no valid tenant/role claims")
        email = claims.get("email")
        if not isinstance(email, str) or "@" not in email:
            email = f"oidc-{hashlib.sha256(subject.encode()).hexdigest()[:20]}@external.invalid"
        try:
            with self._db.system() as session:
                if session.get(Tenant, tenant_id) is None:
                    raise InvalidToken("token names an unknown tenant")
                user = create_user(
                    session,
                    tenant_id=tenant_id,
                    email=email,
                    role=str(role),
                    password=None,
                    subject=subject,
                )
                logger.info(
                    "provisioned external user",
                    extra={"user_id": user.id, "tenant_id": tenant_id},
                )
                return user
        except ApiError as exc:
            # A concurrent request may have provisioned the same subject first.
            with self._db.system() as session:
                existing = find_by_subject(session, subject)
            if existing is not None:
                return existing
            if isinstance(exc, InvalidToken):
                raise
            raise InvalidToken("could not map the external user to a Guardian user") from exc


def _role(value: str) -> Role:
    if value == "admin":
        return "admin"
    if value == "viewer":
        return "viewer"
    raise InvalidToken("user has an unknown role")
