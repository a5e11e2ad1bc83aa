"""``EdgeLink.UploadClip``: an edge's media upload, handed to the HTTP response waiting for it.

Only uploads the relay asked for are taken: each ``StreamClip`` command registers a
:class:`Transfer` under its command id (``expect``) and the upload's chunks go to it as
they arrive, so the browser gets the first byte before the edge has sent the last.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import grpc

from guardian.contracts.pb.guardian.v1 import link_pb2
from guardian.relay.media.transfer import ChunkLike, Transfer
from guardian.relay.pki import EdgeIdentity

logger = logging.getLogger(__name__)

DEFAULT_STALL_S = 15.0


class MediaUploads:
    """The transfers waiting for uploads, by command id (thread-safe)."""

    def __init__(self, data_dir: Path, *, stall_seconds: float = DEFAULT_STALL_S) -> None:
        self.data_dir = data_dir
        self.stall_seconds = stall_seconds
        self._lock = threading.Lock()
        self._transfers: dict[str, Transfer] = {}

    def expect(self, transfer: Transfer) -> None:
        """Route the upload answering ``transfer.command_id`` to ``transfer``."""
        with self._lock:
            self._transfers[transfer.command_id] = transfer

    def forget(self, command_id: str) -> None:
        """Stop routing ``command_id`` (the response is done)."""
        with self._lock:
            self._transfers.pop(command_id, None)

    def _transfer(self, command_id: str) -> Transfer | None:
        with self._lock:
            return self._transfers.get(command_id)

    def receive(
        self,
        identity: EdgeIdentity,
        request_iterator: Iterator[ChunkLike],
        context: grpc.ServicerContext,
    ) -> link_pb2.ClipReceipt:
        """Pass the chunks on; return early (ending the upload) when nobody reads any more."""
        receipt = link_pb2.ClipReceipt()
        transfer: Transfer | None = None
        for chunk in request_iterator:
            if transfer is None:
                transfer = self._transfer(chunk.command_id)
                if (
                    transfer is None
                    or transfer.site_id != identity.site_id
                    or transfer.event_id != chunk.event_id
                ):
                    context.abort(grpc.StatusCode.NOT_FOUND, "no request waits for this upload")
                receipt.event_id, receipt.command_id = chunk.event_id, chunk.command_id
                from_start = chunk.offset == 0
            if not transfer.offer(chunk, self.stall_seconds):
                logger.info(
                    "upload ended early: nobody reads it",
                    extra={"site_id": identity.site_id, "event_id": chunk.event_id},
                )
                break
            receipt.received_bytes = transfer.received
            if chunk.last:
                # The whole file went through (nothing is kept here unless cached).
                receipt.complete = from_start and transfer.received == chunk.total_size
                break
        return receipt
