"""The edge's answer to ``StreamClip``: upload an event's stored media to the relay."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

from guardian.contracts.pb.guardian.v1 import link_pb2, link_pb2_grpc
from guardian.edge.context import EdgeContext
from guardian.edge.store.tables import EventMedia

logger = logging.getLogger(__name__)

# Large chunks: per-message costs (protobuf, gRPC, TLS records, thread hops on the relay)
# dominate at 64 KiB; the proto allows up to 1 MiB, 256 KiB keeps the first byte quick.
CHUNK_BYTES = 256 * 1024
FIRST_CHUNK_BYTES = 32 * 1024  # a small first chunk: the browser's first byte comes sooner
UPLOAD_TIMEOUT_S = 300.0
_MEDIA_KINDS = {
    link_pb2.MEDIA_KIND_CLIP: "clip",
    link_pb2.MEDIA_KIND_SNAPSHOT: "snapshot",
    link_pb2.MEDIA_KIND_THUMBNAIL: "thumbnail",
}


class MediaUploader:
    """Finds an event's media file on this edge and uploads (a range of) it."""

    def __init__(self, ctx: EdgeContext) -> None:
        self._ctx = ctx

    def media_file(self, event_id: str, kind: str) -> tuple[Path, str] | str:
        """The path and MIME type of the event's ``kind`` media, or why there is none."""
        with self._ctx.sessions() as session:
            row = session.get(EventMedia, (event_id, kind))
            if row is None or row.state != "present" or not row.path:
                return f"no {kind} of event {event_id} on this edge"
            rel, content_type = row.path, row.content_type
        media = self._ctx.settings.media_dir.resolve()
        path = (media / rel).resolve()
        if not path.is_relative_to(media):
            return f"the {kind} of event {event_id} lies outside the media folder"
        return path, content_type

    def stream_clip(
        self, stub: link_pb2_grpc.EdgeLinkStub, command_id: str, request: link_pb2.StreamClip
    ) -> str | None:
        """Upload the requested range with ``UploadClip``; None when done, else the error."""
        kind = _MEDIA_KINDS.get(request.kind)
        if kind is None:
            return "unsupported media kind"
        found = self.media_file(request.event_id, kind)
        if isinstance(found, str):
            return found
        path, content_type = found
        chunks = clip_chunks(path, command_id, request, content_type)
        receipt = stub.UploadClip(chunks, timeout=UPLOAD_TIMEOUT_S)
        logger.info(
            "uploaded media",
            extra={"event_id": request.event_id, "kind": kind, "bytes": receipt.received_bytes},
        )
        return None


def clip_chunks(
    path: Path, command_id: str, request: link_pb2.StreamClip, content_type: str
) -> Iterator[link_pb2.ClipChunk]:
    """The file's bytes from ``request.offset`` (``length`` of them, 0: all): 32 KiB, then
    256 KiB chunks.

    Always at least one chunk, the last one flagged; an offset past the end sends none.
    """
    total = path.stat().st_size
    start = min(request.offset, total)
    end = total if request.length == 0 else min(total, start + request.length)
    with path.open("rb") as file:
        file.seek(start)
        position = start
        while True:
            size = FIRST_CHUNK_BYTES if position == start else CHUNK_BYTES
            data = file.read(min(size, end - position))
            last = position + len(data) >= end
            yield link_pb2.ClipChunk(
                event_id=request.event_id,
                command_id=command_id,
                offset=position,
                data=data,
                last=last,
                total_size=total,
                content_type=content_type,
                kind=request.kind,
            )
            position += len(data)
            if last:
                return
