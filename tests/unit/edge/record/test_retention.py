"""Retention rules: age limits per camera, pending clips protect footage, disk pressure."""

from __future__ import annotations

from guardian.edge.record.retention import (
    DAY,
    DiskState,
    MediaItem,
    SegmentItem,
    plan_retention,
)

NOW = 100 * DAY


def seg(i: int, camera: str, age_days: float, size: int = 100) -> SegmentItem:
    end = NOW - age_days * DAY
    return SegmentItem(i, camera, end - 10, end, size)


def media(
    event: str, kind: str, age_days: float, expires_in_days: float, size: int = 50
) -> MediaItem:
    return MediaItem(event, kind, "front", NOW - age_days * DAY, NOW + expires_in_days * DAY, size)


def test_segments_older_than_their_camera_limit_go() -> None:
    plan = plan_retention(
        NOW,
        [seg(1, "front", 0.5), seg(2, "front", 1.5), seg(3, "back", 1.5), seg(4, "back", 3.5)],
        [],
        segment_days={"back": 3.0},
    )
    assert plan.segments == {2: "age", 4: "age"}
    assert plan.freed_bytes == 200
    assert not plan.disk_pressure


def test_a_pending_clip_protects_the_footage_it_needs() -> None:
    old = seg(1, "front", 2)
    plan = plan_retention(
        NOW, [old], [], segment_days={}, protected={"front": [(old.start + 1, old.end + 20)]}
    )
    assert plan.segments == {}
    other_camera = plan_retention(
        NOW, [old], [], segment_days={}, protected={"back": [(old.start, old.end)]}
    )
    assert other_camera.segments == {1: "age"}


def test_expired_event_media_goes_and_fresh_stays() -> None:
    plan = plan_retention(
        NOW, [], [media("e1", "clip", 8, -1), media("e2", "clip", 1, 6)], segment_days={}
    )
    assert plan.media == {("e1", "clip"): "age"}


def test_disk_pressure_deletes_oldest_footage_first_until_below_the_mark() -> None:
    segments = [seg(i, "front", 0.9 - i * 0.1, size=100) for i in range(5)]  # none too old
    clips = [media("old", "clip", 0.95, 6, size=100)]
    disk = DiskState(total=1000, used=960)  # 96% > 90%: free down to 85% = 850
    plan = plan_retention(NOW, segments, clips, segment_days={}, disk=disk, high_water=0.9)
    assert plan.disk_pressure
    # The clip is the oldest footage, then segment 0 (oldest segment).
    assert plan.media == {("old", "clip"): "disk"}
    assert plan.segments == {0: "disk"}
    assert plan.freed_bytes == 200


def test_no_pressure_below_the_mark() -> None:
    plan = plan_retention(
        NOW, [seg(1, "f", 0.1)], [], segment_days={}, disk=DiskState(1000, 800), high_water=0.9
    )
    assert plan.empty and not plan.disk_pressure


def test_protected_segments_survive_disk_pressure() -> None:
    s = seg(1, "front", 0.1, size=900)
    plan = plan_retention(
        NOW,
        [s],
        [],
        segment_days={},
        protected={"front": [(s.start, s.end)]},
        disk=DiskState(1000, 990),
    )
    assert plan.segments == {}
    assert plan.disk_pressure
