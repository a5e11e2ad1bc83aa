"""Assemble an event clip from recorded segments by remuxing (no re-encoding) into one MP4."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import av
from av.container import InputContainer, OutputContainer
from av.video.stream import VideoStream

from guardian.edge.record.segments import finish_file, part_path
from guardian.edge.record.types import ClipInfo, SegmentInfo

logger = logging.getLogger(__name__)

# Tags the MP4 muxer stores natively; any other key needs movflags=use_metadata_tags.
NATIVE_TAGS = frozenset(
    {"title", "comment", "artist", "album", "date", "genre", "copyright", "description",
     "synopsis", "creation_time", "encoder", "composer", "album_artist", "show", "network"}
)  # fmt: skip
HOLDBACK = 32  # packets at/after the end kept in case a B-frame before the end follows
OVERLAP_EPS_S = 1e-3


class ClipError(Exception):
    """A clip cannot be made from the given segments and span."""


class Timed(Protocol):
    """What window selection needs of a packet."""

    @property
    def ts(self) -> float: ...
    @property
    def keyframe(self) -> bool: ...


T = TypeVar("T", bound=Timed)


def clip_window(packets: Iterable[T], start: float, end: float) -> Iterator[T]:
    """The packets (decode order) of a clip of ``[start, end)`` (pure).

    Begins at the last keyframe at or before ``start`` (else the first keyframe after it)
    and stops after the last packet whose ts < ``end``: packets at/after ``end`` are held
    back until an earlier one (a B-frame) needs them, and a keyframe at/after ``end`` or
    ``HOLDBACK`` such packets end the clip.
    """
    gop: list[T] = []  # from the latest keyframe at or before start
    held: list[T] = []
    started = False
    for packet in packets:
        if started:
            pending = [packet]
        else:
            if packet.keyframe and (packet.ts <= start or not gop):
                gop = [packet]
            elif gop:
                gop.append(packet)
            if not gop or packet.ts <= start:
                continue
            started, pending, gop = True, gop, []
        for item in pending:
            if item.ts < end:
                yield from held
                held.clear()
                yield item
            elif item.keyframe or len(held) >= HOLDBACK:
                return  # (a first keyframe past the end: nothing to show)
            else:
                held.append(item)
    # The input ended: held packets all lie at/after the end; leave them out.


@dataclass(frozen=True, slots=True)
class _Timed:
    packet: av.Packet[Any]
    ts: float
    keyframe: bool


def _open_input(segment: SegmentInfo) -> tuple[InputContainer, VideoStream]:
    try:
        container = av.open(str(segment.path))
    except (av.FFmpegError, OSError) as exc:
        raise ClipError(f"cannot open segment {segment.path}: {exc}") from exc
    if not container.streams.video:
        container.close()
        raise ClipError(f"no video stream in segment {segment.path}")
    return container, container.streams.video[0]


def _segment_packets(segment: SegmentInfo, not_before: float) -> Iterator[_Timed]:
    """A segment's packets with wall-clock ts; those before ``not_before`` (overlap) dropped."""
    container, stream = _open_input(segment)
    with container:
        first_pts: int | None = None
        need_key = False
        try:
            for packet in container.demux(stream):
                if packet.size == 0 or packet.pts is None or not packet.time_base:
                    continue
                if first_pts is None:
                    first_pts = packet.pts
                ts = segment.start + float((packet.pts - first_pts) * packet.time_base)
                if ts < not_before - OVERLAP_EPS_S:
                    need_key = True  # that footage was already taken from the segment before
                    continue
                if need_key and not packet.is_keyframe:
                    continue
                need_key = False
                yield _Timed(packet, ts, packet.is_keyframe)
        except av.FFmpegError as exc:
            raise ClipError(f"cannot read segment {segment.path}: {exc}") from exc


def _all_packets(segments: Sequence[SegmentInfo]) -> Iterator[_Timed]:
    not_before = float("-inf")
    for segment in segments:
        yield from _segment_packets(segment, not_before)
        not_before = max(not_before, segment.end)


def _open_output(
    part: Path, template_segment: SegmentInfo, metadata: Mapping[str, str]
) -> tuple[OutputContainer, VideoStream]:
    flags = "+faststart" if NATIVE_TAGS.issuperset(metadata) else "+faststart+use_metadata_tags"
    source, template = _open_input(template_segment)
    with source:
        container = av.open(str(part), "w", format="mp4", options={"movflags": flags})
        try:
            stream = container.add_stream_from_template(template)
        except BaseException:
            container.close()
            raise
    container.metadata.update(metadata)
    return container, stream


def _compatible(segments: list[SegmentInfo]) -> list[SegmentInfo]:
    """The leading run of segments with the first one's codec and frame size."""
    key = (segments[0].codec, segments[0].width, segments[0].height)
    for i, segment in enumerate(segments):
        if (segment.codec, segment.width, segment.height) != key:
            logger.info("clip stops at %s: the stream format changed", segment.path)
            return segments[:i]
    return segments


def assemble_clip(
    segments: Sequence[SegmentInfo],
    start: float,
    end: float,
    out: Path,
    *,
    metadata: Mapping[str, str] | None = None,
    fsync: bool = True,
) -> ClipInfo:
    """Remux the footage of ``[start, end)`` from ``segments`` into one faststart MP4 at ``out``.

    Output timestamps follow the wall clock, so gaps between segments stay gaps. The clip
    starts at a keyframe; ``clip_window`` says where it begins and ends. A segment whose
    codec or frame size differs from the first one's ends the clip there. Written to
    ``<out>.part``, fsynced and renamed, like segments.
    """
    if not end > start:
        raise ClipError(f"empty clip span: start {start} is not before end {end}")
    overlapping = sorted(
        (s for s in segments if s.end > start and s.start < end), key=lambda s: s.start
    )
    if not overlapping:
        raise ClipError(f"no recorded segment overlaps {start:.3f}..{end:.3f}")
    chosen = _compatible(overlapping)
    first = chosen[0]
    out.parent.mkdir(parents=True, exist_ok=True)
    part = part_path(out)
    container, stream = _open_output(part, first, metadata or {})
    try:
        clip_start: float | None = None
        clip_end = 0.0
        last_dts: int | None = None
        for item in clip_window(_all_packets(chosen), start, end):
            raw = item.packet
            clip_start = item.ts if clip_start is None else clip_start
            tb = raw.time_base
            delay = 0 if raw.pts is None or raw.dts is None else raw.pts - raw.dts
            pts = round((item.ts - clip_start) / tb)
            dts = pts - delay
            if last_dts is not None and dts <= last_dts:
                dts = last_dts + 1
            raw.pts, raw.dts = max(pts, dts), dts
            raw.stream = stream
            container.mux(raw)
            last_dts = dts
            clip_end = max(clip_end, item.ts + float((raw.duration or 0) * tb))
        if clip_start is None:
            raise ClipError(f"no keyframe to start a clip of {start:.3f}..{end:.3f}")
        container.close()
        finish_file(part, out, fsync=fsync)
    except BaseException:
        try:
            container.close()
        except (av.FFmpegError, OSError):
            logger.debug("closing the failed clip %s", part, exc_info=True)
        part.unlink(missing_ok=True)
        raise
    return ClipInfo(
        path=out.resolve(),
        start=clip_start,
        duration=clip_end - clip_start,
        size_bytes=out.stat().st_size,
        codec=first.codec,
        width=first.width,
        height=first.height,
    )
