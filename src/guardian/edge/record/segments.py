"""Remux a camera's packets, without re-encoding, into fixed-length crash-safe MP4 segments."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

import av
from av.container import OutputContainer
from av.video.stream import VideoStream

from guardian.edge.camera.source import SourcePacket
from guardian.edge.record.types import SegmentInfo

logger = logging.getLogger(__name__)

PART_SUFFIX = ".part"
BACKWARD_JUMP_S = 1.0  # a packet this far before the segment's latest one starts a new segment
DEFAULT_TIME_BASE = Fraction(1, 90000)


def segment_path(root: Path, camera: str, start: float) -> Path:
    """``root/<camera>/<YYYY>/<MM>/<DD>/<HH>-<MM>-<SS>.<mmm>.mp4`` for ``start`` in UTC."""
    millis = round(start * 1000)
    when = datetime.fromtimestamp(millis // 1000, tz=UTC)
    name = f"{when:%H-%M-%S}.{millis % 1000:03d}.mp4"
    return root / camera / f"{when:%Y}" / f"{when:%m}" / f"{when:%d}" / name


def part_path(final: Path) -> Path:
    """Where a file is written before it is complete and renamed to ``final``."""
    return final.with_name(final.name + PART_SUFFIX)


def sweep_partials(root: Path) -> int:
    """Delete ``*.part`` files a crash left under ``root``; returns how many."""
    count = 0
    if not root.is_dir():
        return 0
    for path in root.rglob(f"*{PART_SUFFIX}"):
        if path.is_file():
            path.unlink(missing_ok=True)
            count += 1
    return count


def fsync_path(path: Path) -> None:
    """Flush a file's (or a directory's entries') data to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def finish_file(part: Path, final: Path, *, fsync: bool) -> None:
    """Make a fully written ``part`` appear atomically as ``final``, durably if ``fsync``."""
    if fsync:
        fsync_path(part)
    os.replace(part, final)
    if fsync:
        fsync_path(final.parent)


@dataclass
class _Segment:
    final: Path
    part: Path
    container: OutputContainer
    stream: VideoStream
    start: float
    end: float
    last_dts: int | None = None
    packets: int = 0


class SegmentRecorder:
    """Writes one camera's packets into segments of about ``segment_seconds``.

    Packets are dropped until the first keyframe; a new segment starts at the first
    keyframe once the current one holds ``segment_seconds``. A finished segment is closed,
    fsynced and renamed from ``.part`` before ``on_segment`` hears of it. ``template``
    (the source's input stream) must stay open while the recorder is used; after a
    reconnect, close this recorder and make a new one with the new stream.
    """

    def __init__(
        self,
        camera: str,
        root: Path,
        template: VideoStream,
        *,
        segment_seconds: float = 10.0,
        on_segment: Callable[[SegmentInfo], None],
        fsync: bool = True,
    ) -> None:
        if segment_seconds <= 0:
            raise ValueError(f"segment_seconds must be positive, got {segment_seconds}")
        self._camera = camera
        self._root = root
        self._template = template
        self._segment_s = segment_seconds
        self._on_segment = on_segment
        self._fsync = fsync
        self._time_base = template.time_base or DEFAULT_TIME_BASE
        self._units_per_s = 1.0 / float(self._time_base)
        src_tb = float(template.time_base) if template.time_base else 0.0
        self._src_to_units = src_tb * self._units_per_s
        self._last_duration = -1.0
        self._duration_units = 1
        ctx = template.codec_context
        self._codec, self._width, self._height = ctx.name, ctx.width, ctx.height
        self._segment: _Segment | None = None

    @property
    def open_segment_start(self) -> float | None:
        """Wall-clock start of the segment being written, if any."""
        return None if self._segment is None else self._segment.start

    def write(self, packet: SourcePacket) -> None:
        """Remux one packet into the current segment, rolling over at keyframes.

        The recorder takes the packet: its timing fields are rewritten in place (no copy
        of the payload), so callers decode a packet before they record it.
        """
        segment = self._segment
        ts = packet.ts
        if segment is not None:
            if packet.keyframe and ts - segment.start >= self._segment_s:
                self._finish()
                segment = None
            elif ts < segment.start - BACKWARD_JUMP_S:
                # The clock went back (camera restart): end here, resume at a keyframe.
                logger.warning("%s: timestamps went back %.1f s", self._camera, segment.end - ts)
                self._finish()
                segment = None
        if segment is None:
            if not packet.keyframe:
                return
            segment = self._begin(ts)
        # This runs for every packet of every camera: plain float maths, no Fractions (the
        # packets carry the template stream's time base already, which mux keeps).
        raw, per_s = packet.packet, self._units_per_s
        pts = round((ts - segment.start) * per_s)
        dts = pts
        raw_pts, raw_dts = raw.pts, raw.dts
        if raw_pts is not None and raw_dts is not None and raw_pts != raw_dts:
            # Keep the reorder delay of B-frames: dts trails pts by the source's amount.
            dts = pts - round((raw_pts - raw_dts) * self._src_to_units)
        last = segment.last_dts
        if last is not None and dts <= last:
            dts = last + 1
        if pts < dts:
            pts = dts
        raw.pts, raw.dts = pts, dts
        duration = packet.duration
        if duration != self._last_duration:
            self._last_duration = duration
            self._duration_units = max(1, round(duration * per_s))
        raw.duration = self._duration_units
        raw.stream = segment.stream
        segment.container.mux_one(raw)
        segment.last_dts = dts
        segment.packets += 1
        end = ts + duration
        if end > segment.end:
            segment.end = end

    def close(self) -> SegmentInfo | None:
        """Finish the segment being written (stream lost, pause, shutdown)."""
        return self._finish() if self._segment is not None else None

    def _begin(self, start: float) -> _Segment:
        final = segment_path(self._root, self._camera, start)
        final.parent.mkdir(parents=True, exist_ok=True)
        part = part_path(final)
        container = av.open(str(part), "w", format="mp4")
        try:
            stream = container.add_stream_from_template(self._template)
        except BaseException:
            container.close()
            part.unlink(missing_ok=True)
            raise
        self._segment = _Segment(final, part, container, stream, start, start)
        return self._segment

    def _finish(self) -> SegmentInfo:
        segment, self._segment = self._segment, None
        assert segment is not None
        try:
            segment.container.close()
            finish_file(segment.part, segment.final, fsync=self._fsync)
        except BaseException:
            segment.part.unlink(missing_ok=True)
            raise
        info = SegmentInfo(
            camera=self._camera,
            path=segment.final.resolve(),
            start=segment.start,
            end=segment.end,
            size_bytes=segment.final.stat().st_size,
            codec=self._codec,
            width=self._width,
            height=self._height,
        )
        logger.debug("segment %s: %.2f s, %d packets", info.path, info.duration, segment.packets)
        self._on_segment(info)
        return info
