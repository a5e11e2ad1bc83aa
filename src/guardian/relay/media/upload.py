"""``EdgeLink.UploadClip``: an edge's media upload, written under the relay's data folder."""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc

from guardian.contracts.pb.guardian.v1 import link_pb2
from guardian.relay.pki import EdgeIdentity

logger = logging.getLogger(__name__)

CLIPS_DIR = "clips"


class MediaUploads:
    """Receives uploads into ``<data_dir>/clips/<event_id>.mp4``."""

    def __init__(self, data_dir: Path) -> None:
        self._dir = data_dir / CLIPS_DIR

    def receive(
        self,
        identity: EdgeIdentity,
        request_iterator: Iterator[link_pb2.ClipChunk],
        context: grpc.ServicerContext,
    ) -> link_pb2.ClipReceipt:
        """Write the chunks at their offsets; the receipt says whether the file is whole."""
        self._dir.mkdir(parents=True, exist_ok=True)
        receipt = link_pb2.ClipReceipt()
        handle = None
        try:
            for chunk in request_iterator:
                if handle is None:
                    try:
                        event_id = str(uuid.UUID(chunk.event_id))
                    except ValueError:
                        context.abort(grpc.StatusCode.INVALID_ARGUMENT, "event_id is not a UUID")
                    path = self._dir / f"{event_id}.mp4"
                    handle = path.open("r+b" if path.exists() else "w+b")
                    receipt.event_id, receipt.command_id = event_id, chunk.command_id
                handle.seek(chunk.offset)
                handle.write(chunk.data)
                receipt.received_bytes += len(chunk.data)
                if chunk.last:
                    handle.flush()
                    handle.seek(0)
                    data = handle.read()
                    if len(data) == chunk.total_size:
                        receipt.complete = True
                        receipt.sha256 = hashlib.sha256(data).hexdigest()
        finally:
            if handle is not None:
                handle.close()
        logger.info("clip received", extra={"site_id": identity.site_id})
        return receipt
