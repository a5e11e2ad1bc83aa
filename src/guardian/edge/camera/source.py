"""A camera stream via PyAV: open, demux with wall-clock timestamps, decode; files loop."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal
from urllib.parse import urlsplit
from urllib.request import url2pathname

import av
from av.container import InputContainer
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

from guardian.edge.camera.backoff import Backoff
from guardian.edge.camera.config import redact_url
from guardian.edge.camera.hwaccel import vaapi_available, vaapi_hwaccel
from guardian.edge.camera.interrupt import any_flagged, flag_thread, release_thread
from guardian.edge.camera.wallclock import WallClock

__all__ = [
    "Backoff",
    "SourceFrame",
    "SourcePacket",
    "StreamError",
    "StreamInfo",
    "StreamSource",
    "WallClock",
    "vaapi_available",
]

logger = logging.getLogger(__name__)

DEFAULT_FRAME_S = 1 / 25  # packet duration when neither the packet nor the stream says

# Exceptions PyAV raises on bad input; all become StreamError at this boundary.
AV_ERRORS = (av.FFmpegError, OSError, RuntimeError, ValueError)

Hwaccel = Literal["auto", "vaapi", "none"]


class StreamError(Exception):
    """A stream cannot be opened or read (the message names the redacted URL).

    ``invalid`` tells bad data (garbage, no video, undecodable: the camera's status is
    ``error``) from an unreachable or lost stream (``offline``).
    """

    def __init__(self, message: str, *, invalid: bool = False) -> None:
        super().__init__(message)
        self.invalid = invalid


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """What an opened stream carries."""

    url: str  # redacted
    codec: str
    width: int
    height: int
    fps: float | None
    decoder: str  # "vaapi" or "software"
    live: bool  # False for file:// sources (they loop)


@dataclass(frozen=True, slots=True)
class SourcePacket:
    """A demuxed video packet with the wall-clock time of its pts."""

    packet: av.Packet[Any]
    ts: float
    duration: float
    keyframe: bool


@dataclass(frozen=True, slots=True)
class SourceFrame:
    """A decoded frame with the wall-clock time of its pts."""

    ts: float
    frame: VideoFrame


def _file_path(url: str) -> str | None:
    """The local path of a ``file://`` URL (percent-decoded), else ``None``."""
    parts = urlsplit(url)
    return url2pathname(parts.path) if parts.scheme == "file" else None


def _open_options(url: str, read_timeout_s: float) -> dict[str, str]:
    scheme = urlsplit(url).scheme
    if scheme in ("rtsp", "rtsps"):
        # FFmpeg >= 5 names the RTSP socket timeout "timeout" (µs); "stimeout" is gone.
        return {"rtsp_transport": "tcp", "timeout": str(int(read_timeout_s * 1e6))}
    if scheme in ("http", "https", "rtmp"):
        return {"rw_timeout": str(int(read_timeout_s * 1e6))}
    return {}


class StreamSource:
    """One camera stream: ``open``, then ``packets`` (and ``decode`` the ones you need).

    A ``file://`` source loops like a camera, paced to its timestamps when ``realtime``.
    Not thread-safe, except ``interrupt``, which another thread may call at any time.
    """

    def __init__(
        self,
        url: str,
        *,
        open_timeout_s: float = 10.0,
        read_timeout_s: float = 10.0,
        hwaccel: Hwaccel = "auto",
        realtime: bool | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._url = url
        self._redacted = redact_url(url)
        self._path = _file_path(url)
        self._open_timeout = open_timeout_s
        self._read_timeout = read_timeout_s
        self._hwaccel = hwaccel
        self._realtime = (self._path is not None) if realtime is None else realtime
        self._clock = clock
        self._sleep = sleep
        self._container: InputContainer | None = None
        self._stream: VideoStream | None = None
        self._info: StreamInfo | None = None
        self._demux: Iterator[av.Packet[Any]] | None = None
        self._wall = WallClock(live=self._path is None)
        self._decoding = False  # the decoder has been fed (so it may hold frames)
        self._drained: list[VideoFrame] = []  # frames flushed out before a file loops
        self._frame_s = DEFAULT_FRAME_S
        self._tb_s = 0.0  # the stream's time base in seconds, set by open()
        self._interrupted = threading.Event()
        self._lock = threading.Lock()
        self._io_thread: int | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def open(self) -> StreamInfo:
        """Connect and probe the stream; ``StreamError`` if it has no usable video."""
        if self._info is not None:
            return self._info
        if self._path is not None and urlsplit(self._url).netloc not in ("", "localhost"):
            raise StreamError(f"file URL with a remote host is not supported: {self._redacted}")
        target = self._path if self._path is not None else self._url
        hw = self._hwaccel != "none" and vaapi_available()
        if self._hwaccel == "vaapi" and not hw:
            logger.warning(
                "VAAPI requested but unavailable; decoding %s in software", self._redacted
            )
        try:
            with self._blocking():
                container = av.open(
                    target,
                    mode="r",
                    options=_open_options(self._url, self._read_timeout),
                    timeout=(self._open_timeout, self._read_timeout),
                    hwaccel=vaapi_hwaccel() if hw else None,
                )
        except AV_ERRORS as exc:
            raise self._error("cannot open", exc) from exc
        try:
            self._info = self._probe(container, "vaapi" if hw else "software")
        except StreamError:
            container.close()
            raise
        self._container = container
        self._demux = container.demux(self._stream)
        return self._info

    def _probe(self, container: InputContainer, decoder: str) -> StreamInfo:
        if not container.streams.video:
            raise StreamError(f"no video stream in {self._redacted}", invalid=True)
        stream = container.streams.video[0]
        ctx = stream.codec_context
        if not ctx.width or not ctx.height:
            raise StreamError(
                f"video stream of {self._redacted} has no frame size (bad data?)", invalid=True
            )
        stream.thread_type = "AUTO"
        stream.codec_context.copy_opaque = True  # frames carry their packet's ts (opaque)
        rate = stream.average_rate or stream.base_rate or stream.guessed_rate
        fps = float(rate) if rate and 0 < float(rate) <= 1000 else None
        if fps:
            self._frame_s = 1.0 / fps
        self._tb_s = float(stream.time_base) if stream.time_base else 0.0
        self._stream = stream
        return StreamInfo(
            url=self._redacted,
            codec=ctx.name,
            width=ctx.width,
            height=ctx.height,
            fps=fps,
            decoder=decoder,
            live=self._path is None,
        )

    def close(self) -> None:
        """Release the connection (idempotent); ``open`` may connect again afterwards."""
        container, self._container = self._container, None
        self._demux = None
        self._info = self._stream = None
        self._decoding = False
        self._drained = []
        if self._path is None:
            self._wall = WallClock(live=True)  # a reconnected camera starts a new timeline
        else:
            self._wall.restart()  # a reopened file continues where it stopped
        if container is not None:
            container.close()

    def interrupt(self) -> None:
        """From another thread: make a blocked ``open``/read return soon with StreamError."""
        self._interrupted.set()
        with self._lock:
            if self._io_thread is not None:
                flag_thread(self._io_thread)

    def __enter__(self) -> StreamSource:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def stream(self) -> VideoStream:
        """The input video stream (the recorder's template)."""
        if self._stream is None:
            raise StreamError(f"{self._redacted} is not open")
        return self._stream

    @property
    def info(self) -> StreamInfo:
        if self._info is None:
            raise StreamError(f"{self._redacted} is not open")
        return self._info

    # -- reading -----------------------------------------------------------------------

    def packets(self) -> Iterator[SourcePacket]:
        """Video packets with wall-clock ``ts``, forever for files (they loop).

        Raises StreamError when a live stream ends, stalls past the read timeout, sends
        bad data, or is interrupted.
        """
        info = self.info
        since_rewind = 0
        while True:
            raw = self._read()
            if raw is None:
                if info.live:
                    raise StreamError(f"stream ended: {self._redacted}")
                if since_rewind == 0:
                    raise StreamError(f"no video packets in {self._redacted}", invalid=True)
                self._rewind()
                since_rewind = 0
                continue
            since_rewind += 1
            packet = self._stamp(raw)
            if self._realtime:
                delay = packet.ts - self._clock()
                if delay > 0:
                    self._sleep(delay)
            yield packet

    def _read(self) -> av.Packet[Any] | None:
        """The next non-empty video packet, or None at the end of the input."""
        if self._demux is None:
            raise StreamError(f"{self._redacted} is not open")
        if self._interrupted.is_set():
            raise StreamError(f"interrupted: {self._redacted}")
        tid = threading.get_ident()
        self._io_thread = tid  # a plain store: interrupt() reads it under its lock
        try:
            while True:
                raw = next(self._demux, None)
                if raw is None or raw.size > 0:
                    return raw
        except AV_ERRORS as exc:
            timeout = isinstance(exc, av.ExitError)
            what = f"no data for {self._read_timeout:g} s from" if timeout else "cannot read"
            raise self._error(what, exc) from exc
        finally:
            with self._lock:
                self._io_thread = None
                if any_flagged():
                    release_thread(tid)

    def _rewind(self) -> None:
        container = self._container
        assert container is not None and self._stream is not None
        try:
            if self._decoding:
                # seek() flushes the decoder; keep the frames it still holds.
                self._drained.extend(self._stream.decode(None))
                self._decoding = False
            container.seek(0)
        except AV_ERRORS as exc:
            raise self._error("cannot loop", exc) from exc
        self._demux = container.demux(self._stream)
        self._wall.restart()

    def _stamp(self, raw: av.Packet[Any]) -> SourcePacket:
        # Float arithmetic: Fraction maths per packet costs more than the remux itself.
        tb = self._tb_s
        duration = raw.duration * tb if raw.duration and tb else self._frame_s
        pts = raw.pts
        pts_s = pts * tb if pts is not None and tb else None
        ts = self._wall.map(pts_s, duration, self._clock())
        raw.opaque = ts
        return SourcePacket(packet=raw, ts=ts, duration=duration, keyframe=raw.is_keyframe)

    def decode(self, packet: SourcePacket) -> list[SourceFrame]:
        """Frames decoded so far (they may come out a few packets later, in pts order).

        A packet FFmpeg cannot decode is skipped (logged), not an error.
        """
        stream = self.stream
        frames, self._drained = self._drained, []
        try:
            self._decoding = True
            frames.extend(stream.decode(packet.packet))
        except av.InvalidDataError as exc:
            logger.debug("undecodable packet from %s: %s", self._redacted, exc)
        except AV_ERRORS as exc:
            raise self._error("cannot decode", exc) from exc
        return [
            SourceFrame(ts=f.opaque if isinstance(f.opaque, float) else packet.ts, frame=f)
            for f in frames
        ]

    # -- helpers -----------------------------------------------------------------------

    @contextmanager
    def _blocking(self) -> Iterator[None]:
        """Mark this thread as blocked in FFmpeg for this source, so interrupt() can reach it."""
        if self._interrupted.is_set():
            raise StreamError(f"interrupted: {self._redacted}")
        tid = threading.get_ident()
        with self._lock:
            self._io_thread = tid
        try:
            yield
        finally:
            with self._lock:
                self._io_thread = None
                release_thread(tid)

    def _error(self, what: str, exc: BaseException) -> StreamError:
        if self._interrupted.is_set():
            return StreamError(f"interrupted: {self._redacted}")
        detail = str(exc).replace(self._url, self._redacted)
        password = urlsplit(self._url).password
        if password:
            detail = detail.replace(password, "***")
        invalid = isinstance(exc, av.error.InvalidDataError) or what == "cannot decode"
        return StreamError(f"{what} {self._redacted}: {detail}", invalid=invalid)
