"""Recording retention against the real store and files: age, pending clips, high water."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from guardian.common.db import utcnow
from guardian.edge.camera.config import CameraConfig
from guardian.edge.context import EdgeContext, build_context
from guardian.edge.record.disk import DiskGuard
from guardian.edge.record.pruning import run_pruning
from guardian.edge.store.tables import Camera, Event, EventMedia, Recording
from tests.edge_fixtures import EdgeDb

NOW = utcnow()


@pytest.fixture
def ctx(edge_db: EdgeDb) -> Iterator[EdgeContext]:
    context = build_context(edge_db.settings)
    yield context
    context.engine.dispose()


def _file(ctx: EdgeContext, rel: str, size: int) -> str:
    path = ctx.settings.media_dir / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    return rel


def add_segment(ctx: EdgeContext, camera: str, age_h: float, size: int = 1000) -> int:
    start = NOW - dt.timedelta(hours=age_h)
    rel = _file(ctx, f"recordings/{camera}/{start:%Y/%m/%d/%H-%M-%S.%f}.mp4", size)
    with ctx.sessions.begin() as s:
        row = Recording(
            camera=camera,
            path=rel,
            started_at=start,
            ended_at=start + dt.timedelta(seconds=10),
            duration_s=10.0,
            size_bytes=size,
            codec="h264",
            width=320,
            height=240,
            state="present",
        )
        s.add(row)
        s.flush()
        return row.id


def add_event_media(
    ctx: EdgeContext, event_id: str, camera: str, age_h: float, kind: str, state: str = "present"
) -> None:
    started = NOW - dt.timedelta(hours=age_h)
    with ctx.sessions.begin() as s:
        if s.get(Event, event_id) is None:
            s.add(
                Event(
                    id=event_id,
                    type="person_detected",
                    source_kind="camera",
                    source_id=camera,
                    started_at=started,
                    ended_at=started + dt.timedelta(seconds=5),
                    person_count=1,
                    best_score=0.9,
                    details={"state": "ended"},
                    created_at=started,
                    updated_at=started,
                )
            )
            s.flush()
        meta = {"start": started.timestamp() - 5, "end": started.timestamp() + 10}
        s.add(
            EventMedia(
                event_id=event_id,
                kind=kind,
                camera=camera,
                state=state,
                path=_file(ctx, f"clips/{camera}/{event_id}.mp4", 500)
                if state == "present"
                else None,
                content_type="video/mp4",
                size_bytes=500 if state == "present" else None,
                meta=meta,
                expires_at=started + dt.timedelta(days=7),
                created_at=started,
                updated_at=started,
            )
        )


def add_camera(ctx: EdgeContext, name: str, segments_days: float) -> None:
    config = CameraConfig(
        name=name, url="file:///x.mp4", retention={"segments_days": segments_days}
    )
    with ctx.sessions.begin() as s:
        s.add(
            Camera(
                name=name,
                config=config.stored(),
                enabled=True,
                created_at=NOW,
                updated_at=NOW,
                version=1,
            )
        )


def states(ctx: EdgeContext) -> dict[int, str]:
    with ctx.sessions() as s:
        return {r.id: r.state for r in s.scalars(select(Recording))}


def test_age_limits_per_camera_and_pending_clips(ctx: EdgeContext) -> None:
    add_camera(ctx, "front", 1.0)
    add_camera(ctx, "back", 3.0)
    fresh = add_segment(ctx, "front", 2)
    old = add_segment(ctx, "front", 30)
    back_old = add_segment(ctx, "back", 30)  # 1.25 days < 3 days for this camera
    needed = add_segment(ctx, "front", 40)
    add_event_media(ctx, "ev-pending", "front", 40, "clip", state="pending")
    expired_event_h = 8 * 24
    add_event_media(ctx, "ev-old", "front", expired_event_h, "clip")
    add_event_media(ctx, "ev-new", "front", 1, "clip")

    report = run_pruning(ctx)
    assert report.segments == 1 and report.media == 1 and not report.disk_pressure
    got = states(ctx)
    assert got[old] == "pruned"
    assert got[fresh] == got[back_old] == got[needed] == "present"
    with ctx.sessions() as s:
        old_row = s.get(Recording, old)
        assert old_row is not None and not (ctx.settings.media_dir / old_row.path).exists()
        media = {m.event_id: m.state for m in s.scalars(select(EventMedia))}
    assert media == {"ev-pending": "pending", "ev-old": "pruned", "ev-new": "present"}
    assert not (ctx.settings.media_dir / "clips/front/ev-old.mp4").exists()
    again = run_pruning(ctx)  # idempotent
    assert again.segments == 0 and again.media == 0


def test_high_water_mark_deletes_oldest_footage_first(ctx: EdgeContext) -> None:
    add_camera(ctx, "front", 1.0)
    ids = [add_segment(ctx, "front", h) for h in (5, 4, 3, 2, 1)]
    # A mark no real disk is under: everything unprotected goes, oldest first.
    tight = ctx.settings.model_copy(
        update={"cameras": ctx.settings.cameras.model_copy(update={"high_water_fraction": 0.0001})}
    )
    ctx.settings = tight
    report = run_pruning(ctx)
    assert report.disk_pressure
    assert all(state == "pruned" for state in states(ctx).values())
    assert report.segments == len(ids)


def test_disk_floor_pauses_recording_in_the_report(ctx: EdgeContext, tmp_path: Path) -> None:
    guard = DiskGuard(ctx.settings.media_dir, 10**18)
    assert run_pruning(ctx, guard).recording_paused
    assert guard.paused
    relaxed = DiskGuard(ctx.settings.media_dir, 0)
    assert not run_pruning(ctx, relaxed).recording_paused


def test_segments_left_unindexed_by_a_crash_are_indexed_at_start(
    ctx: EdgeContext, tmp_path: Path
) -> None:
    from guardian.edge.record.reindex import reindex_segments
    from guardian.edge.record.segments import segment_path
    from tests.video import make_video

    root = ctx.settings.media_dir / "recordings"
    start = 1_767_000_000.25
    final = segment_path(root, "door", start)
    make_video(final, seconds=3.0)  # renamed into place, but the row never committed
    (root / "door" / "notes.txt").write_text("not a segment")
    assert reindex_segments(ctx, root) == 1
    with ctx.sessions() as s:
        row = s.scalars(select(Recording)).one()
    assert row.camera == "door"
    assert row.started_at.timestamp() == pytest.approx(start, abs=0.001)
    assert row.duration_s == pytest.approx(3.0, abs=0.2)
    assert reindex_segments(ctx, root) == 0  # idempotent
