"""The built-in issuer: password login, access tokens, rotating refresh tokens, logout."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import jwt
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from guardian.common.api_errors import TooManyRequests, Unauthorized
from guardian.control.auth import throttle
from guardian.control.auth.keys import ActiveKey, KeyRing
from guardian.control.auth.passwords import hash_password, needs_rehash, verify_password
from guardian.control.auth.tokens import ALGORITHM, access_claims, digest, new_refresh_token
from guardian.control.auth.users import find_by_email
from guardian.control.config import AuthSettings
from guardian.control.db import Database
from guardian.control.store.tables import RefreshToken, Tenant, User

logger = logging.getLogger(__name__)
BAD_LOGIN = "invalid email or password"


class LoginThrottled(TooManyRequests):
    code = "login_throttled"


class InvalidRefreshToken(Unauthorized):
    code = "invalid_refresh_token"


@dataclass(frozen=True, slots=True)
class TokenPair:
    """What a login or a refresh answers."""

    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "bearer"


class BuiltinIssuer:
    """Signs in users of the store and keeps their refresh-token families."""

    def __init__(
        self, db: Database, keyring: KeyRing, settings: AuthSettings, clock: Callable[[], float]
    ) -> None:
        self._db = db
        self._keys = keyring
        self._settings = settings
        self._clock = clock

    def _now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self._clock(), dt.UTC)

    def access_token(self, user: User, key: ActiveKey | None = None) -> str:
        """A signed access token for ``user`` (with ``key`` or the active key)."""
        key = key or self._keys.active()
        claims = access_claims(
            issuer=self._settings.issuer,
            audience=self._settings.audience,
            user_id=user.id,
            tenant_id=user.tenant_id,
            role=user.role,
            now=self._clock(),
            lifetime_seconds=self._settings.access_token_seconds,
        )
        return jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})

    def _issue(
        self, session: Session, key: ActiveKey, user: User, family_id: str | None = None
    ) -> TokenPair:
        now = self._now()
        refresh = new_refresh_token()
        session.add(
            RefreshToken(
                id=str(uuid.uuid4()),
                tenant_id=user.tenant_id,
                user_id=user.id,
                family_id=family_id or str(uuid.uuid4()),
                token_sha256=digest(refresh),
                created_at=now,
                expires_at=now + dt.timedelta(seconds=self._settings.refresh_token_seconds),
                used_at=None,
                revoked_at=None,
            )
        )
        session.flush()
        access = self.access_token(user, key)
        return TokenPair(access, refresh, self._settings.access_token_seconds)

    def login(self, email: str, password: str, address: str | None) -> TokenPair:
        """Check a password login; ``Unauthorized`` or ``LoginThrottled`` (with Retry-After).

        An unknown email and a wrong password get the same answer after the same work.
        """
        window = self._settings.login_window_seconds
        counters = throttle.counters(email, address, self._settings.login_max_failures)
        with self._db.system() as session:
            wait = throttle.retry_after(session, counters, self._now(), window)
            user = find_by_email(session, email)
            stored_hash = user.password_hash if user is not None else None
        if wait is not None:
            raise LoginThrottled(
                "too many failed logins; try again later", headers={"Retry-After": str(wait)}
            )
        # Hash outside any transaction: SQLite's write lock must not wait for Argon2.
        matches = verify_password(stored_hash, password)
        active = user is not None and user.disabled_at is None
        # Fetched before the transaction: on SQLite a nested one would wait for our lock.
        key = self._keys.active() if matches and active else None
        with self._db.system() as session:
            if key is None or user is None:
                throttle.record_failure(session, counters, self._now(), window)
                logger.info("login failed", extra={"address": address})
            else:
                throttle.clear(session, counters[0].key)
                fresh = session.get(User, user.id)
                if fresh is None or fresh.disabled_at is not None:
                    raise Unauthorized(BAD_LOGIN)
                if stored_hash and needs_rehash(stored_hash):
                    fresh.password_hash = hash_password(password)
                logger.info("login", extra={"user_id": fresh.id, "tenant_id": fresh.tenant_id})
                return self._issue(session, key, fresh)
        raise Unauthorized(BAD_LOGIN)

    def refresh(self, refresh_token: str) -> TokenPair:
        """Rotate a refresh token into a new pair.

        A token used before means it was copied: its whole family is revoked (the thief's
        and the owner's sessions end) and the call fails.
        """
        now = self._now()
        key = self._keys.active()
        failure: str | None = None
        with self._db.system() as session:
            row = session.scalars(
                select(RefreshToken).where(RefreshToken.token_sha256 == digest(refresh_token))
            ).first()
            if row is None or row.revoked_at is not None:
                failure = "refresh token is not valid"
            elif row.expires_at <= now:
                failure = "refresh token has expired"
            elif not self._mark_used(session, row, now):
                self._revoke_family(session, row.family_id, now)
                logger.warning(
                    "refresh token reused; session revoked",
                    extra={"user_id": row.user_id, "tenant_id": row.tenant_id},
                )
                failure = "refresh token was already used; the session is revoked"
            else:
                user = session.get(User, row.user_id)
                tenant = session.get(Tenant, row.tenant_id)
                if user is None or user.disabled_at is not None or tenant is None:
                    self._revoke_family(session, row.family_id, now)
                    failure = "the account is disabled"
                else:
                    return self._issue(session, key, user, row.family_id)
        raise InvalidRefreshToken(failure or "refresh token is not valid")

    def logout(self, refresh_token: str) -> None:
        """Revoke the session (refresh-token family) of ``refresh_token``; unknown: no-op."""
        with self._db.system() as session:
            row = session.scalars(
                select(RefreshToken).where(RefreshToken.token_sha256 == digest(refresh_token))
            ).first()
            if row is not None:
                self._revoke_family(session, row.family_id, self._now())

    @staticmethod
    def _mark_used(session: Session, row: RefreshToken, now: dt.datetime) -> bool:
        # Conditional update: of two concurrent uses of one token only one wins.
        result = session.execute(
            update(RefreshToken)
            .where(RefreshToken.id == row.id, RefreshToken.used_at.is_(None))
            .values(used_at=now)
        )
        return bool(getattr(result, "rowcount", 0))

    @staticmethod
    def _revoke_family(session: Session, family_id: str, now: dt.datetime) -> None:
        session.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
