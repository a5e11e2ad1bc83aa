"""Record a looping test video into segments, as the camera pipeline does (for the tests)."""

from __future__ import annotations

from pathlib import Path

from guardian.edge.camera.source import StreamSource
from guardian.edge.record.segments import SegmentRecorder
from guardian.edge.record.types import SegmentInfo

T0 = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC: the wall clock of the first packet


def record(
    video: Path,
    root: Path,
    seconds: float,
    *,
    segment_seconds: float = 10.0,
    camera: str = "cam",
    skip: int = 0,
) -> list[SegmentInfo]:
    """Record ``seconds`` of ``video`` (looped, not paced) under ``root``; the segments made.

    The first ``skip`` packets are left out, like joining a stream mid-GOP.
    """
    segments: list[SegmentInfo] = []
    with StreamSource(video.as_uri(), realtime=False, clock=lambda: T0) as source:
        source.open()
        recorder = SegmentRecorder(
            camera, root, source.stream, segment_seconds=segment_seconds, on_segment=segments.append
        )
        for i, packet in enumerate(source.packets()):
            if packet.ts >= T0 + seconds - 1e-6:
                break
            if i >= skip:
                recorder.write(packet)
        recorder.close()
    return segments
