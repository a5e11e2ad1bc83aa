"""One media transfer from an edge to a waiting HTTP response, chunk by chunk as it arrives."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

# At most this many bytes wait for the HTTP side (then the upload waits for the reader).
# Generous on purpose: the edge answers commands one at a time, so an upload held back by a
# paused <video> would make the event's snapshot wait behind it; a whole clip fits.
QUEUE_BYTES = 64 * 1024 * 1024


class ChunkLike(Protocol):
    """An upload message: a ``link_pb2.ClipChunk``, or a
    :class:`~guardian.relay.media.wire.WireChunk` read from its wire form."""

    @property
    def event_id(self) -> str: ...
    @property
    def command_id(self) -> str: ...
    @property
    def offset(self) -> int: ...
    @property
    def data(self) -> bytes | memoryview: ...
    @property
    def last(self) -> bool: ...
    @property
    def total_size(self) -> int: ...
    @property
    def content_type(self) -> str: ...


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
    """A bounded buffer between the ``UploadClip`` servicer thread and one HTTP response.

    The servicer ``offer``s chunks (blocking only while ``max_bytes`` wait unread: a browser
    that stops reading throttles the edge through gRPC flow control); the edge's failed
    ``CommandResult`` calls ``fail``; the response (a coroutine on the event loop) awaits
    ``head`` and then ``next_data`` until it is None. A waiting response is woken with
    ``call_soon_threadsafe`` when a chunk comes, so no thread hop is spent per chunk.
    """

    def __init__(
        self, command_id: str, site_id: str, event_id: str, *, max_bytes: int = QUEUE_BYTES
    ) -> None:
        self.command_id = command_id
        self.site_id = site_id
        self.event_id = event_id
        self._max_bytes = max_bytes
        self._lock = threading.Condition()
        self._pieces: deque[bytes | memoryview] = deque()
        self._queued = 0  # bytes in _pieces
        #: Bytes taken from the edge so far.
        self.received = 0
        self._head: MediaHead | None = None
        self._complete = False  # the last chunk has come
        self._cancelled = False
        self._error: str | None = None
        self._waiter: tuple[asyncio.AbstractEventLoop, asyncio.Future[None]] | None = None

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    # --- the edge's side (any thread) ---------------------------------------------------
    def offer(self, chunk: ChunkLike, timeout: float) -> bool:
        """Queue ``chunk``; False when the response went away or did not read for ``timeout``."""
        data = chunk.data  # a ClipChunk copies it on every access: take it once
        deadline = time.monotonic() + timeout
        with self._lock:
            while not self._cancelled and self._queued >= self._max_bytes:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._lock.wait(left)
            if self._cancelled:
                return False
            if self._head is None:
                self._head = MediaHead(chunk.total_size, chunk.content_type, chunk.offset)
            if data:
                self._pieces.append(data)
                self._queued += len(data)
                self.received += len(data)
            self._complete = chunk.last
            self._wake()
        return True

    def fail(self, message: str) -> None:
        """The edge could not send (no such media, a read error); never blocks."""
        with self._lock:
            self._error = message or "the edge could not send the media"
            self._wake()

    def cancel(self) -> None:
        """The response is gone: the servicer ends the upload at its next chunk."""
        with self._lock:
            self._cancelled = True
            self._lock.notify_all()

    def _wake(self) -> None:
        """Resolve the response's pending wait (called holding the lock)."""
        if self._waiter is not None:
            loop, future = self._waiter
            self._waiter = None
            with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits
                loop.call_soon_threadsafe(_resolve, future)

    # --- the response's side (the event loop) ------------------------------------------
    async def _wait(self, ready: Callable[[], bool], deadline: float, timeout: float) -> None:
        """Until ``ready()`` may hold (the edge offered; checked holding the lock) or the edge
        failed (``TransferError`` 404); ``TransferError`` 504 past ``deadline``."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._lock:
            if ready():
                return
            if self._error is not None:
                raise TransferError(self._error, 404, "no_media")
            self._waiter = (loop, future)
        try:
            async with asyncio.timeout_at(loop.time() + max(0.0, deadline - time.monotonic())):
                await future
        except TimeoutError:
            raise TransferError(
                f"the edge sent nothing for {timeout:g} s", 504, "edge_timeout"
            ) from None
        finally:
            with self._lock:
                if self._waiter is not None and self._waiter[1] is future:
                    self._waiter = None

    async def head(self, timeout: float) -> MediaHead:
        """Wait for the first chunk (``TransferError``: 404 edge error, 504 nothing came)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if self._head is not None:
                    return self._head
            await self._wait(lambda: self._head is not None, deadline, timeout)

    async def next_data(self, timeout: float, most: int = 1 << 20) -> bytes | memoryview | None:
        """The next bytes in order: what has arrived (waiting for some if none has), up to
        about ``most`` bytes; None after the last chunk (``TransferError`` on failure)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if self._pieces:
                    parts = [self._pieces.popleft()]
                    size = len(parts[0])
                    while self._pieces and size < most:
                        parts.append(self._pieces.popleft())
                        size += len(parts[-1])
                    self._queued -= size
                    self._lock.notify_all()
                    return parts[0] if len(parts) == 1 else b"".join(parts)
                if self._complete:
                    return None
            await self._wait(lambda: bool(self._pieces) or self._complete, deadline, timeout)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
