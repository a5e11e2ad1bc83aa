"""Recording retention rules (pure): what footage to delete, by age and under disk pressure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

DAY = 86400.0
TARGET_BELOW_HIGH_WATER = 0.05  # delete down to 5 points below the high-water mark


@dataclass(frozen=True, slots=True)
class SegmentItem:
    """A present recording segment."""

    id: int
    camera: str
    start: float
    end: float
    size: int


@dataclass(frozen=True, slots=True)
class MediaItem:
    """A present event media file (snapshot, thumbnail or clip)."""

    event_id: str
    kind: str
    camera: str
    start: float  # when the footage it shows begins (for oldest-first under disk pressure)
    expires: float | None
    size: int

    @property
    def key(self) -> tuple[str, str]:
        return (self.event_id, self.kind)


@dataclass(frozen=True, slots=True)
class DiskState:
    total: int
    used: int


@dataclass(slots=True)
class RetentionPlan:
    """Items to delete and why (``age`` or ``disk``)."""

    segments: dict[int, str] = field(default_factory=dict)
    media: dict[tuple[str, str], str] = field(default_factory=dict)
    freed_bytes: int = 0
    disk_pressure: bool = False

    @property
    def empty(self) -> bool:
        return not self.segments and not self.media


def _protected(item: SegmentItem, spans: Mapping[str, Sequence[tuple[float, float]]]) -> bool:
    return any(item.start < end and item.end > start for start, end in spans.get(item.camera, ()))


def plan_retention(
    now: float,
    segments: Sequence[SegmentItem],
    media: Sequence[MediaItem],
    *,
    segment_days: Mapping[str, float],
    default_segment_days: float = 1.0,
    protected: Mapping[str, Sequence[tuple[float, float]]] | None = None,
    disk: DiskState | None = None,
    high_water: float = 0.9,
) -> RetentionPlan:
    """What to delete now.

    By age: segments older than their camera's ``segment_days`` (unless a pending clip
    still needs them: ``protected`` spans per camera) and event media past ``expires``.
    Under disk pressure (``disk`` fuller than ``high_water``): then the oldest remaining
    footage, segments and event media alike, until usage is 5 points below the mark.
    """
    spans = protected or {}
    plan = RetentionPlan()
    for seg in segments:
        days = segment_days.get(seg.camera, default_segment_days)
        if seg.end <= now - days * DAY and not _protected(seg, spans):
            plan.segments[seg.id] = "age"
            plan.freed_bytes += seg.size
    for item in media:
        if item.expires is not None and item.expires <= now:
            plan.media[item.key] = "age"
            plan.freed_bytes += item.size
    if disk is None or disk.total <= 0 or disk.used / disk.total <= high_water:
        return plan
    plan.disk_pressure = True
    target = max(0.0, high_water - TARGET_BELOW_HIGH_WATER) * disk.total
    excess = disk.used - plan.freed_bytes - target
    candidates: list[tuple[float, int, SegmentItem | MediaItem]] = [
        (s.start, 0, s) for s in segments if s.id not in plan.segments and not _protected(s, spans)
    ]
    candidates += [(m.start, 1, m) for m in media if m.key not in plan.media]
    candidates.sort(key=lambda c: (c[0], c[1]))
    for _, _, victim in candidates:
        if excess <= 0:
            break
        if isinstance(victim, SegmentItem):
            plan.segments[victim.id] = "disk"
        else:
            plan.media[victim.key] = "disk"
        plan.freed_bytes += victim.size
        excess -= victim.size
    return plan
