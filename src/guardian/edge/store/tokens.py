"""Admin bearer tokens for the local read API: random, shown once, stored as SHA-256."""

from __future__ import annotations

import hashlib
import secrets
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from guardian.common.db import utcnow
from guardian.edge.store.tables import AdminToken

TOKEN_PREFIX = "gea_"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, label: str | None = None) -> str:
    """Create a token; the caller shows it once (only its hash is kept)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        AdminToken(
            id=str(uuid.uuid4()), token_sha256=_digest(token), label=label, created_at=utcnow()
        )
    )
    return token


def token_is_valid(session: Session, token: str) -> bool:
    """Whether ``token`` is a live admin token (lookup by hash, so timing reveals nothing)."""
    row = session.scalar(select(AdminToken).where(AdminToken.token_sha256 == _digest(token)))
    return row is not None and row.revoked_at is None
