"""Read back what a finished MP4 holds: duration, codec, size, frames, keyframe, faststart."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import av

from guardian.edge.record.types import MediaProbe

HEADER = struct.Struct(">I4s")
LARGE_SIZE = struct.Struct(">Q")


class ProbeError(Exception):
    """A file is not a readable MP4 with a video stream."""


@dataclass(frozen=True, slots=True)
class Box:
    """A top-level ISO-BMFF box: its four-character type, byte offset and total size."""

    type: str
    offset: int
    size: int


def top_level_boxes(stream: BinaryIO) -> list[Box]:
    """The top-level boxes of an MP4, read from its headers only (stops at bad data)."""
    boxes: list[Box] = []
    offset = 0
    while True:
        stream.seek(offset)
        header = stream.read(HEADER.size)
        if len(header) < HEADER.size:
            return boxes
        size, raw_type = HEADER.unpack(header)
        header_size = HEADER.size
        if size == 1:  # a 64-bit size follows the type
            large = stream.read(LARGE_SIZE.size)
            if len(large) < LARGE_SIZE.size:
                return boxes
            (size,) = LARGE_SIZE.unpack(large)
            header_size += LARGE_SIZE.size
        elif size == 0:  # the box runs to the end of the file
            end = stream.seek(0, 2)
            size = end - offset
        if size < header_size:
            return boxes
        boxes.append(Box(raw_type.decode("latin-1"), offset, size))
        offset += size


def is_faststart(boxes: list[Box]) -> bool:
    """Whether the ``moov`` box comes before the first ``mdat`` (playable while downloading)."""
    types = [box.type for box in boxes]
    if "moov" not in types or "mdat" not in types:
        return False
    return types.index("moov") < types.index("mdat")


def probe(path: Path) -> MediaProbe:
    """Open ``path`` with PyAV and measure its first video stream from its packets."""
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError) as exc:
        raise ProbeError(f"cannot open {path}: {exc}") from exc
    with container:
        if not container.streams.video:
            raise ProbeError(f"no video stream in {path}")
        stream = container.streams.video[0]
        first_pts: int | None = None
        last_end: int | None = None
        frames = 0
        first_key = False
        try:
            for packet in container.demux(stream):
                if packet.size == 0 or packet.pts is None:
                    continue
                if frames == 0:
                    first_key = packet.is_keyframe
                frames += 1
                end = packet.pts + (packet.duration or 0)
                first_pts = packet.pts if first_pts is None else min(first_pts, packet.pts)
                last_end = end if last_end is None else max(last_end, end)
        except av.FFmpegError as exc:
            raise ProbeError(f"cannot read {path}: {exc}") from exc
        tb = stream.time_base
        duration = 0.0
        if first_pts is not None and last_end is not None and tb:
            duration = float((last_end - first_pts) * tb)
        ctx = stream.codec_context
        codec, width, height = ctx.name, ctx.width, ctx.height
    with path.open("rb") as f:
        faststart = is_faststart(top_level_boxes(f))
    return MediaProbe(
        duration=duration,
        codec=codec,
        width=width,
        height=height,
        frames=frames,
        first_is_keyframe=first_key,
        faststart=faststart,
        size_bytes=path.stat().st_size,
    )
