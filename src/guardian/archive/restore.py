"""Restoring an archived clip: fetch the blob, verify its CID, open every chunk, then rename.

Nothing is left at the output path unless everything verified: the blob and the plaintext
go to temp files in the output's folder, and only a fully opened clip is renamed into place.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterable
from pathlib import Path

from guardian.archive.blob import BlobError, open_stream
from guardian.archive.cid import check_cid, cid_of_digest
from guardian.common.fsutil import fsync_dir


class RestoreError(Exception):
    """The blob could not be fetched, does not match its CID, or does not open."""


def restore(cid: str, pieces: Iterable[bytes], secret: bytes, out: Path) -> int:
    """Write the clip sealed in the blob ``pieces`` (named ``cid``) to ``out``; its size."""
    check_cid(cid)
    out = out.absolute()
    folder = out.parent
    if not folder.is_dir():
        raise RestoreError(f"the output folder {folder} does not exist")
    tag = uuid.uuid4().hex
    blob_temp = folder / f".{out.name}.{tag}.blob"
    plain_temp = folder / f".{out.name}.{tag}.part"
    try:
        digest = hashlib.sha256()
        with blob_temp.open("wb") as handle:
            for piece in pieces:
                digest.update(piece)
                handle.write(piece)
        actual = cid_of_digest(digest.digest())
        if actual != cid:
            raise RestoreError(f"the blob fetched hashes to {actual}, not {cid}: it is corrupted")
        try:
            with blob_temp.open("rb") as source, plain_temp.open("wb") as sink:
                size = open_stream(secret, source, sink)
                sink.flush()
                os.fsync(sink.fileno())
        except BlobError as exc:
            raise RestoreError(str(exc)) from exc
        os.replace(plain_temp, out)
        fsync_dir(folder)
        return size
    finally:
        blob_temp.unlink(missing_ok=True)
        plain_temp.unlink(missing_ok=True)
