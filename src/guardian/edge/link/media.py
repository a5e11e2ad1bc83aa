"""The edge's answer to ``StreamClip``: upload an event's stored media to the relay."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import TypeAlias

import grpc
from sqlalchemy import select

from guardian.contracts.pb.guardian.v1 import link_pb2
from guardian.edge.context import EdgeContext
from guardian.edge.store.tables import EventMedia

logger = logging.getLogger(__name__)

# Large chunks: per-message costs (protobuf, gRPC, thread hand-offs on both ends) dominate
# small ones; 1 MiB is the most the proto allows. The first is small: its bytes reach the
# browser sooner.
CHUNK_BYTES = 1024 * 1024
FIRST_CHUNK_BYTES = 32 * 1024
UPLOAD_TIMEOUT_S = 300.0
UPLOAD_METHOD = f"/{link_pb2.DESCRIPTOR.services_by_name['EdgeLink'].full_name}/UploadClip"
#: ``EdgeLink.UploadClip`` taking messages already in wire form.
Upload: TypeAlias = "grpc.StreamUnaryMultiCallable[bytes, link_pb2.ClipReceipt]"
_DATA_KEY = bytes([link_pb2.ClipChunk.DATA_FIELD_NUMBER << 3 | 2])  # a length-delimited field
_MEDIA_KINDS = {
    link_pb2.MEDIA_KIND_CLIP: "clip",
    link_pb2.MEDIA_KIND_SNAPSHOT: "snapshot",
    link_pb2.MEDIA_KIND_THUMBNAIL: "thumbnail",
}


Found: TypeAlias = tuple[Path, str] | str
"""Where an event's media is (path, MIME type), or why there is none."""


class MediaUploader:
    """Finds an event's media file on this edge and uploads (a range of) it."""

    def __init__(self, ctx: EdgeContext) -> None:
        self._ctx = ctx

    def media_file(self, event_id: str, kind: str) -> Found:
        """The path and MIME type of the event's ``kind`` media, or why there is none."""
        query = select(EventMedia.state, EventMedia.path, EventMedia.content_type).where(
            EventMedia.event_id == event_id, EventMedia.kind == kind
        )
        with self._ctx.engine.connect() as connection:  # Core: half an ORM session's cost
            row = connection.execute(query).first()
        if row is None or row.state != "present" or not row.path:
            return f"no {kind} of event {event_id} on this edge"
        media = self._ctx.settings.media_dir.resolve()
        path = (media / row.path).resolve()
        if not path.is_relative_to(media):
            return f"the {kind} of event {event_id} lies outside the media folder"
        return path, row.content_type

    def stream_clip(
        self, upload: Upload, command_id: str, request: link_pb2.StreamClip
    ) -> str | None:
        """Upload the requested range with ``upload`` (:func:`upload_call`); None when
        done, else the error.

        The media is looked up in the request stream's first step, so the call is already
        open and the relay checks this edge's certificate meanwhile. Media that is not here
        ends the stream without a chunk, and the error goes back in the ``CommandResult``.
        """
        kind = _MEDIA_KINDS.get(request.kind)
        if kind is None:
            return "unsupported media kind"
        missing: list[str] = []

        def chunks() -> Iterator[bytes]:
            found = self.media_file(request.event_id, kind)
            if isinstance(found, str):
                missing.append(found)
            else:
                yield from encoded_chunks(found[0], command_id, request, found[1])

        receipt = upload(chunks(), timeout=UPLOAD_TIMEOUT_S)
        if missing:
            return missing[0]
        logger.info(
            "uploaded media",
            extra={"event_id": request.event_id, "kind": kind, "bytes": receipt.received_bytes},
        )
        return None


def upload_call(channel: grpc.Channel) -> Upload:
    """``EdgeLink.UploadClip`` on ``channel``, taking messages already in wire form
    (:func:`encoded_chunks`)."""
    return channel.stream_unary(
        UPLOAD_METHOD,
        request_serializer=None,
        response_deserializer=link_pb2.ClipReceipt.FromString,
    )


def clip_chunks(
    path: Path, command_id: str, request: link_pb2.StreamClip, content_type: str
) -> Iterator[link_pb2.ClipChunk]:
    """The file's bytes from ``request.offset`` (``length`` of them, 0: all): 32 KiB, then
    1 MiB chunks.

    Always at least one chunk, the last one flagged (an offset past the end sends one
    without data: the relay learns the size).
    """
    for chunk, data in _pieces(path, command_id, request, content_type):
        chunk.data = data
        yield chunk


def encoded_chunks(
    path: Path, command_id: str, request: link_pb2.StreamClip, content_type: str
) -> Iterator[bytes]:
    """:func:`clip_chunks` in their wire form, for :func:`upload_call`."""
    for chunk, data in _pieces(path, command_id, request, content_type):
        yield encode_chunk(chunk, data)


def encode_chunk(chunk: link_pb2.ClipChunk, data: bytes) -> bytes:
    """The wire form of ``chunk`` (whose ``data`` is unset) with ``data`` as its data field.

    Setting ``chunk.data`` and serialising would copy the bytes twice; this copies them
    once. The data field simply comes last: protobuf reads fields in any order.
    """
    size, length = len(data), bytearray()
    while size > 0x7F:
        length.append(size & 0x7F | 0x80)
        size >>= 7
    length.append(size)
    return b"".join((chunk.SerializeToString(), _DATA_KEY, length, data))


def _pieces(
    path: Path, command_id: str, request: link_pb2.StreamClip, content_type: str
) -> Iterator[tuple[link_pb2.ClipChunk, bytes]]:
    """(each chunk without its data, the data)."""
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
            chunk = link_pb2.ClipChunk(
                event_id=request.event_id,
                command_id=command_id,
                offset=position,
                last=last,
                total_size=total,
                content_type=content_type,
                kind=request.kind,
            )
            yield chunk, data
            position += len(data)
            if last:
                return
