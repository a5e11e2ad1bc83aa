"""Content IDs of archive blobs: CIDv1, raw codec, SHA-256 multihash, base32 (``bafkrei…``).

Computed by hand (it is four bytes of prefix on a SHA-256); the tests check it against the
``multiformats`` library. This is the CID of the blob's bytes as one raw block, not the
chunked UnixFS DAG CID that ``ipfs add`` would give the same file.
"""

from __future__ import annotations

import base64
import hashlib
from typing import BinaryIO

CID_VERSION = 1
RAW_CODEC = 0x55
SHA2_256 = 0x12
DIGEST_BYTES = 32
MULTIBASE_BASE32 = "b"
PREFIX = bytes((CID_VERSION, RAW_CODEC, SHA2_256, DIGEST_BYTES))
CID_CHARS = 59  # "b" + base32 of 36 bytes without padding
_READ = 1024 * 1024


def cid_of_digest(digest: bytes) -> str:
    """The CID of a blob whose SHA-256 is ``digest``."""
    if len(digest) != DIGEST_BYTES:
        raise ValueError("a SHA-256 digest is 32 bytes")
    encoded = base64.b32encode(PREFIX + digest).decode("ascii").lower().rstrip("=")
    return MULTIBASE_BASE32 + encoded


def cid_of_bytes(data: bytes) -> str:
    """The CID of ``data``."""
    return cid_of_digest(hashlib.sha256(data).digest())


def cid_of_stream(source: BinaryIO) -> tuple[str, int]:
    """The CID and size of what is left in ``source`` (read in 1 MiB pieces)."""
    digest = hashlib.sha256()
    size = 0
    while chunk := source.read(_READ):
        digest.update(chunk)
        size += len(chunk)
    return cid_of_digest(digest.digest()), size


def digest_of_cid(cid: str) -> bytes:
    """The SHA-256 digest a CID names (``ValueError`` unless it is a raw sha2-256 CIDv1)."""
    if len(cid) != CID_CHARS or not cid.startswith(MULTIBASE_BASE32):
        raise ValueError(f"not a raw sha2-256 CIDv1 in base32: {cid[:80]!r}")
    body = cid[1:].upper()
    try:
        raw = base64.b32decode(body + "=" * (-len(body) % 8))
    except ValueError as exc:
        raise ValueError(f"not a base32 CID: {cid[:80]!r}") from exc
    if raw[: len(PREFIX)] != PREFIX or len(raw) != len(PREFIX) + DIGEST_BYTES:
        raise ValueError(f"not a raw sha2-256 CIDv1: {cid[:80]!r}")
    if cid_of_digest(raw[len(PREFIX) :]) != cid:
        raise ValueError(f"not a canonical CID: {cid[:80]!r}")
    return raw[len(PREFIX) :]


def check_cid(cid: str) -> str:
    """``cid`` if it is a canonical raw sha2-256 CIDv1 (``ValueError`` otherwise)."""
    digest_of_cid(cid)
    return cid
