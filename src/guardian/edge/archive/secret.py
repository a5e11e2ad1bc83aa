"""The user's archive secret on the edge: sealed with the edge's master key, never sent.

The secret itself (not a key derived from it) is kept, because every blob derives its own
key with a fresh salt. It is read from stdin, never logged, and leaves this file only as
Argon2id input.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.exceptions import InvalidTag

from guardian.common.seal import Sealer
from guardian.device.durable import write_atomic

SECRET_FILE = "archive/secret.sealed"
AAD = b"guardian-archive-secret-v1"
MIN_SECRET_CHARS = 8
MAX_SECRET_BYTES = 4096


class SecretError(Exception):
    """No usable archive secret (missing, too short, or the sealed file is unreadable)."""


def secret_path(data_dir: Path) -> Path:
    """Where the sealed secret is kept."""
    return data_dir / SECRET_FILE


def parse_secret(text: str) -> bytes:
    """The secret typed or piped in: one line, trailing newline dropped, length checked."""
    value = text.removesuffix("\n").removesuffix("\r")
    if "\n" in value:
        raise SecretError("the archive secret must be one line")
    if len(value) < MIN_SECRET_CHARS:
        raise SecretError(f"the archive secret must have at least {MIN_SECRET_CHARS} characters")
    data = value.encode("utf-8")
    if len(data) > MAX_SECRET_BYTES:
        raise SecretError(f"the archive secret must be at most {MAX_SECRET_BYTES} bytes")
    return data


def store_secret(data_dir: Path, sealer: Sealer, secret: bytes) -> None:
    """Keep ``secret`` sealed (mode 0600), replacing any previous one."""
    path = secret_path(data_dir)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_atomic(path, sealer.seal(secret, AAD))
    os.chmod(path, 0o600)


def load_secret(data_dir: Path, sealer: Sealer) -> bytes:
    """The stored secret (:class:`SecretError` when none is set or it cannot be opened)."""
    path = secret_path(data_dir)
    try:
        sealed = path.read_bytes()
    except FileNotFoundError:
        raise SecretError(
            "no archive secret: set one with `guardian edge archive set-secret`"
        ) from None
    try:
        return sealer.open(sealed, AAD)
    except (InvalidTag, ValueError):  # another master key, or a damaged file
        raise SecretError(
            f"the sealed archive secret in {path} cannot be opened (another master key?)"
        ) from None
