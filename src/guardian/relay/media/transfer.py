"""One media transfer from an edge to a waiting HTTP response, chunk by chunk as it arrives."""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass

from guardian.contracts.pb.guardian.v1 import link_pb2

# At most this many chunks (256 KiB each from our edges: 64 MiB) wait for the HTTP side.
# Generous on purpose: the edge answers commands one at a time, so an upload held back by a
# paused <video> would make the event's snapshot wait behind it; a whole clip fits.
QUEUE_CHUNKS = 256
_POLL_S = 0.25


class TransferError(Exception):
    """The transfer cannot go on; ``status`` is the HTTP status to answer when still possible."""

    def __init__(self, message: str, status: int, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


@dataclass(frozen=True, slots=True)
class MediaHead:
    """What the first chunk tells: the file's size and type, and where the data starts."""

    total_size: int
    content_type: str
    offset: int


class Transfer:
    """A bounded queue between the ``UploadClip`` servicer and one HTTP response.

    The servicer ``offer``s chunks (blocking only while the queue is full: a browser that
    stops reading throttles the edge through gRPC flow control); the edge's failed ``CommandResult``
    calls ``fail``; the response reads ``head`` and then ``next_data`` until it is None.
    """

    def __init__(self, command_id: str, site_id: str, event_id: str) -> None:
        self.command_id = command_id
        self.site_id = site_id
        self.event_id = event_id
        self._queue: queue.Queue[link_pb2.ClipChunk] = queue.Queue(QUEUE_CHUNKS)
        self._cancelled = threading.Event()
        self._error: str | None = None
        self._first: link_pb2.ClipChunk | None = None
        self._finished = False

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    # --- the edge's side ---------------------------------------------------------------
    def offer(self, chunk: link_pb2.ClipChunk, timeout: float) -> bool:
        """Queue ``chunk``; False when the response went away or did not read for ``timeout``."""
        deadline = time.monotonic() + timeout
        while not self._cancelled.is_set():
            try:
                self._queue.put(chunk, timeout=min(_POLL_S, max(0.0, deadline - time.monotonic())))
                return True
            except queue.Full:
                if time.monotonic() >= deadline:
                    return False
        return False

    def fail(self, message: str) -> None:
        """The edge could not send (no such media, a read error); never blocks."""
        self._error = message or "the edge could not send the media"

    def cancel(self) -> None:
        """The response is gone: the servicer ends the upload at its next chunk."""
        self._cancelled.set()

    # --- the response's side -------------------------------------------------------------
    def _take(self, timeout: float) -> link_pb2.ClipChunk:
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self._queue.get(timeout=_POLL_S)
            except queue.Empty:
                if self._error is not None:
                    raise TransferError(self._error, 404, "no_media") from None
                if time.monotonic() >= deadline:
                    raise TransferError(
                        f"the edge sent nothing for {timeout:g} s", 504, "edge_timeout"
                    ) from None

    def head(self, timeout: float) -> MediaHead:
        """Wait for the first chunk (``TransferError``: 404 edge error, 504 nothing came)."""
        if self._first is None:
            self._first = self._take(timeout)
        first = self._first
        return MediaHead(first.total_size, first.content_type, first.offset)

    def next_data(self, timeout: float, most: int = 1 << 20) -> bytes | None:
        """The next bytes in order: what has arrived (waiting for one chunk at least), up to
        about ``most`` bytes; None after the last chunk (``TransferError`` on failure)."""
        if self._finished:
            return None
        chunk, self._first = self._first or self._take(timeout), None
        parts = [chunk.data]
        size = len(chunk.data)
        while not chunk.last and size < most:
            try:
                chunk = self._queue.get_nowait()
            except queue.Empty:
                break
            parts.append(chunk.data)
            size += len(chunk.data)
        if chunk.last:
            self._finished = True
        return parts[0] if len(parts) == 1 else b"".join(parts)
