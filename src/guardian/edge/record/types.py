"""What the recorder and the clip maker produce (pure data)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    """One finished, renamed, fsynced MP4 segment.

    ``start``/``end`` are wall-clock (Unix seconds) of its first packet and of the end of
    its last one; ``path`` is absolute. A segment always starts with a keyframe.
    """

    camera: str
    path: Path
    start: float
    end: float
    size_bytes: int
    codec: str
    width: int
    height: int

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class ClipInfo:
    """An event clip assembled from segments (MP4, ``faststart``)."""

    path: Path
    start: float  # wall-clock of its first frame (a keyframe)
    duration: float
    size_bytes: int
    codec: str
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class MediaProbe:
    """What a finished MP4 holds, read back from the file."""

    duration: float
    codec: str
    width: int
    height: int
    frames: int
    first_is_keyframe: bool
    faststart: bool  # the moov atom comes before mdat
    size_bytes: int
