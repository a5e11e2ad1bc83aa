"""Secret tokens: generated once, shown once, stored only as their SHA-256."""

from __future__ import annotations

import hashlib
import secrets


def new_token(prefix: str) -> str:
    """A fresh URL-safe secret (256 bits) with a readable ``prefix`` such as ``grl``."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def sha256_hex(token: str) -> str:
    """The digest kept in the database instead of ``token``."""
    return hashlib.sha256(token.encode()).hexdigest()
