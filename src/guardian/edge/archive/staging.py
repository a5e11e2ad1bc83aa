"""Sealed blobs waiting for upload: ``<data_dir>/archive/outgoing/<event id>.blob``.

A blob is sealed once and kept until the relay has it: a retry uploads the same bytes
(same CID), so the relay, which stores a CID once, never holds two blobs for one clip.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from guardian.archive.blob import KdfParams, seal_stream
from guardian.archive.cid import cid_of_digest
from guardian.common.fsutil import fsync_dir
from guardian.device.durable import unlink_durable, write_atomic

OUTGOING_DIR = "archive/outgoing"


@dataclass(frozen=True, slots=True)
class StagedBlob:
    """A sealed blob on disk and its CID and size."""

    path: Path
    cid: str
    size: int


class _HashingWriter:
    """Writes through to a file while hashing."""

    def __init__(self, sink: BinaryIO) -> None:
        self._sink = sink
        self.digest = hashlib.sha256()

    def write(self, data: bytes | memoryview) -> int:
        self.digest.update(data)
        return self._sink.write(data)


class Outgoing:
    """The folder of sealed blobs waiting for the relay."""

    def __init__(self, data_dir: Path) -> None:
        self.directory = data_dir / OUTGOING_DIR

    def _paths(self, event_id: str) -> tuple[Path, Path]:
        return self.directory / f"{event_id}.blob", self.directory / f"{event_id}.json"

    def existing(self, event_id: str) -> StagedBlob | None:
        """The blob sealed earlier for ``event_id``, if it is complete."""
        blob, meta = self._paths(event_id)
        try:
            info = json.loads(meta.read_text())
            size = blob.stat().st_size
        except (OSError, ValueError):
            return None
        if not isinstance(info, dict) or info.get("size") != size:
            return None
        return StagedBlob(blob, str(info["cid"]), size)

    def seal(
        self,
        event_id: str,
        clip: Path,
        secret: bytes,
        *,
        kdf: KdfParams,
        chunk_bytes: int,
    ) -> StagedBlob:
        """Seal ``clip`` into the outgoing folder (fsynced, renamed), hashing as it goes."""
        self.directory.mkdir(parents=True, exist_ok=True)
        blob, meta = self._paths(event_id)
        temp = blob.with_name(f".{blob.name}.{os.getpid()}.tmp")
        try:
            with clip.open("rb") as source, temp.open("wb") as sink:
                writer = _HashingWriter(sink)
                size = seal_stream(
                    secret,
                    source,
                    writer,
                    kdf=kdf,
                    chunk_bytes=chunk_bytes,
                )
                sink.flush()
                os.fsync(sink.fileno())
            os.replace(temp, blob)
        finally:
            temp.unlink(missing_ok=True)
        fsync_dir(self.directory)
        cid = cid_of_digest(writer.digest.digest())
        write_atomic(meta, json.dumps({"cid": cid, "size": size}).encode())
        return StagedBlob(blob, cid, size)

    def discard(self, event_id: str) -> None:
        """Remove the staged blob of ``event_id`` (uploaded, or to be sealed again)."""
        for path in self._paths(event_id):
            unlink_durable(path)
