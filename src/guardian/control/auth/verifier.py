"""Access-token verification: built-in RS256 tokens and, if configured, an OIDC issuer's."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from guardian.common.api_errors import ApiError
from guardian.control.auth.keys import KeyRing
from guardian.control.auth.oidc import JwksCache, jwks_url
from guardian.control.auth.principal import ROLES, Principal, Role
from guardian.control.auth.tokens import ALGORITHM, InvalidToken, check_times
from guardian.control.auth.users import create_user, find_by_subject, user_changes
from guardian.control.config import AuthSettings
from guardian.control.db import Database
from guardian.control.store.tables import Tenant, User

logger = logging.getLogger(__name__)
BUILTIN = "builtin"
_REQUIRED = ["exp", "iss", "aud", "sub"]
# A verified token's principal is reused for at most this long (never past the token's
# exp): a user disabled, demoted or deleted by another process loses access within it.
CACHE_SECONDS = 5.0
CACHE_ENTRIES = 10_000
REFRESH_AFTER = 0.8  # of an entry's life: then a request starts a background refresh


@dataclass(frozen=True, slots=True)
class _Verified:
    principal: Principal
    verified_at: float
    until: float
    changes: int  # users.user_changes() before the user was read


class VerifiedTokens:
    """Principals of recently verified access tokens, keyed by the token's SHA-256.

    Verifying a token means an RS256 signature check and a read of its user; a client
    sends the same token many times a minute. An entry is trusted for ``ttl`` seconds and
    never past the token's ``exp``; any user change made in this process drops them all
    (``users.user_changes``). Failed verifications are not cached. Thread-safe; at most
    ``max_entries`` entries (the oldest go first).
    """

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        ttl: float = CACHE_SECONDS,
        max_entries: int = CACHE_ENTRIES,
    ) -> None:
        if ttl < 0 or max_entries <= 0:
            raise ValueError("ttl must be >= 0 and max_entries positive")
        self._clock = clock
        self._ttl = ttl
        self._max = max_entries
        self._lock = threading.Lock()
        self._entries: dict[bytes, _Verified] = {}
        self._refreshing: set[bytes] = set()

    @staticmethod
    def key(token: str) -> bytes:
        return hashlib.sha256(token.encode()).digest()

    def get(self, token: str) -> Principal | None:
        """The cached principal of ``token`` while its entry is valid, else None."""
        key = self.key(token)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            now = self._clock()
            if entry.changes == user_changes() and entry.verified_at <= now < entry.until:
                return entry.principal
            del self._entries[key]
            return None

    def put(self, token: str, principal: Principal, *, exp: float, changes: int) -> None:
        """Remember ``principal`` for ``token`` (``changes``: ``user_changes()`` read before
        the user was looked up).
        """
        now = self._clock()
        until = min(now + self._ttl, exp)
        if until <= now:
            return
        key = self.key(token)
        with self._lock:
            self._refreshing.discard(key)
            self._entries.pop(key, None)
            while len(self._entries) >= self._max:
                del self._entries[next(iter(self._entries))]
            self._entries[key] = _Verified(principal, now, until, changes)

    def refresh_due(self, token: str) -> bool:
        """True, once, when ``token``'s entry is in the last fifth of its life: the caller
        should verify it again in the background, so a token in steady use never waits.
        """
        key = self.key(token)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or key in self._refreshing:
                return False
            life = entry.until - entry.verified_at
            if self._clock() - entry.verified_at < life * REFRESH_AFTER:
                return False
            self._refreshing.add(key)
            return True

    def forget(self, token: str) -> None:
        """Drop ``token``'s entry (it no longer verifies)."""
        key = self.key(token)
        with self._lock:
            self._refreshing.discard(key)
            self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)


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

    Built-in tokens are checked against our key ring and our user table (the stored role
    wins; a disabled user is refused). External tokens are checked against the issuer's
    JWKS; their ``sub`` maps to ``users.subject``, and an unknown subject is provisioned
    from the tenant and role claims when both are present and valid.

    The outcome is cached per token for ``cache_seconds`` (``VerifiedTokens``): a user
    disabled or demoted through this process is refused at once, through another process
    (a second replica, the CLI) within ``cache_seconds``. Near its end, callers refresh
    the entry in the background (``refresh_due``, ``refresh``).
    """

    def __init__(
        self,
        db: Database,
        settings: AuthSettings,
        keyring: KeyRing,
        clock: Callable[[], float],
        jwks: JwksCache | None = None,
        *,
        cache_seconds: float = CACHE_SECONDS,
    ) -> None:
        self._db = db
        self.cache = VerifiedTokens(clock, ttl=cache_seconds)
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

    def cached(self, token: str) -> Principal | None:
        """The principal of ``token`` if it was verified moments ago (no I/O), else None."""
        return self.cache.get(token)

    def verify(self, token: str) -> Principal:
        """The principal behind ``token`` (cached, else verified); ``InvalidToken`` if none."""
        principal = self.cache.get(token)
        if principal is not None:
            return principal
        changes = user_changes()
        principal, exp = self._verify(token)
        self.cache.put(token, principal, exp=exp, changes=changes)
        return principal

    def refresh_due(self, token: str) -> bool:
        """Whether ``token``'s cache entry should be refreshed now (see ``refresh``)."""
        return self.cache.refresh_due(token)

    def refresh(self, token: str) -> None:
        """Verify ``token`` again, signature and user, and cache the outcome (run in the
        background before its entry runs out). A token that no longer verifies is dropped,
        so its next request is refused.
        """
        changes = user_changes()
        try:
            principal, exp = self._verify(token)
        except Exception as exc:  # InvalidToken, or the store failing: verify afresh next time
            logger.info("cached token dropped on refresh", extra={"reason": type(exc).__name__})
            self.cache.forget(token)
            return
        self.cache.put(token, principal, exp=exp, changes=changes)

    def _verify(self, token: str) -> tuple[Principal, float]:
        header = _header(token)
        issuer = header["iss"]
        settings = self._settings
        if settings.builtin_enabled and issuer == settings.issuer:
            return self._builtin(token, header["kid"])
        if settings.oidc_issuer and self._jwks is not None and issuer == settings.oidc_issuer:
            return self._external(token, header["kid"], self._jwks)
        raise InvalidToken("token is from an unknown issuer")

    def _builtin(self, token: str, kid: str) -> tuple[Principal, float]:
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
            principal = Principal(user.id, user.tenant_id, _role(user.role), user.email, BUILTIN)
        return principal, float(claims["exp"])

    def _external(self, token: str, kid: str, jwks: JwksCache) -> tuple[Principal, float]:
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
        principal = Principal(
            user.id, user.tenant_id, _role(user.role), user.email, settings.oidc_issuer
        )
        return principal, float(claims["exp"])

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
