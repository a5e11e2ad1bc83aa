"""Seal small secrets at rest with a local master key (AES-256-GCM).

Used where a service must be able to use a secret again (an HMAC verifier needs the
device key itself), so a hash cannot do: a copy of the database alone reveals nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12
KEY_BYTES = 32


class Sealer:
    """Encrypts/decrypts with one 256-bit key; ``aad`` binds a ciphertext to its owner."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError("master key must be 32 bytes")
        self._aead = AESGCM(key)

    def seal(self, plaintext: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, aad)

    def open(self, sealed: bytes, aad: bytes) -> bytes:
        return self._aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)


def load_or_create_master_key(path: Path) -> bytes:
    """Read the master key file, creating it (mode 0600, atomically) on first use."""
    if path.is_file():
        key = path.read_bytes()
        if len(key) != KEY_BYTES:
            raise ValueError(f"{path} is not a {KEY_BYTES}-byte key")
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = os.urandom(KEY_BYTES)
    # A temp name of our own: two processes starting at once must not share (and unlink)
    # one temp file.
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, key)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # fails if another process created it first: use theirs
    except FileExistsError:
        os.unlink(tmp)
        return load_or_create_master_key(path)
    os.unlink(tmp)
    return key
