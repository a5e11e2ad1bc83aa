"""Content IDs: our hand-computed CIDv1 (raw, sha2-256, base32) against ``multiformats``."""

from __future__ import annotations

import hashlib
import io
import os

import pytest
from multiformats import CID, multihash

from guardian.archive.cid import (
    cid_of_bytes,
    cid_of_digest,
    cid_of_stream,
    digest_of_cid,
)

# An independent, published vector: the raw-leaf CIDv1 of "hello" (no newline), as any
# IPFS implementation prints it for a single raw block.
HELLO_CID = "bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq"


def _reference(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return str(CID("base32", 1, "raw", multihash.wrap(digest, "sha2-256")))


def test_known_vector() -> None:
    assert cid_of_bytes(b"hello") == HELLO_CID == _reference(b"hello")


@pytest.mark.parametrize("size", [0, 1, 31, 32, 1000, 300_000])
def test_matches_multiformats(size: int) -> None:
    data = os.urandom(size)
    ours = cid_of_bytes(data)
    assert ours == _reference(data)
    assert ours.startswith("bafkrei")
    decoded = CID.decode(ours)
    assert (decoded.version, decoded.codec.name, decoded.hashfun.name) == (1, "raw", "sha2-256")


def test_stream_matches_bytes() -> None:
    data = os.urandom(3 * 1024 * 1024 + 1)
    assert cid_of_stream(io.BytesIO(data)) == (cid_of_bytes(data), len(data))


def test_digest_round_trip() -> None:
    digest = hashlib.sha256(b"x").digest()
    assert digest_of_cid(cid_of_digest(digest)) == digest


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "Qmbad",
        HELLO_CID.upper(),
        HELLO_CID[:-1],
        HELLO_CID[:-1] + "!",
        "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi",  # dag-pb, not raw
        str(CID("base32", 1, "raw", multihash.digest(b"x", "sha2-512"))),
    ],
)
def test_other_cids_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        digest_of_cid(bad)
