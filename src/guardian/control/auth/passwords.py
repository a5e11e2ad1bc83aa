"""Password hashing (Argon2id) and the minimum password policy."""

from __future__ import annotations

import secrets
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from guardian.common.api_errors import Unprocessable

MIN_LENGTH = 10
MAX_LENGTH = 1024  # hashing is deliberately slow: cap the input an attacker can send

# OWASP's Argon2id baseline (m=19 MiB, t=2, p=1): ~60 ms per hash on a small machine.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


class WeakPassword(Unprocessable):
    """A password that does not meet the policy (the message says why)."""

    code = "weak_password"


def check_password(password: str) -> None:
    """Raise ``WeakPassword`` unless ``password`` meets the policy."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"a password needs at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"a password may have at most {MAX_LENGTH} characters")
    if len(set(password)) < 4:
        raise WeakPassword("a password needs at least 4 different characters")


def hash_password(password: str) -> str:
    """The Argon2id hash of ``password`` (PHC string with salt and parameters)."""
    return _HASHER.hash(password)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _HASHER.hash(secrets.token_urlsafe(16))


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches ``password_hash``.

    With no hash (unknown account, OIDC-only user) a dummy hash is verified anyway so the
    answer takes as long as for a real account.
    """
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _HASHER.verify(password_hash or _dummy_hash(), password) and bool(password_hash)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with other parameters than the current ones."""
    return _HASHER.check_needs_rehash(password_hash)
