"""The camera maintainer end to end in one process: a looping file camera, a scripted scene,
real PyAV decode and remux, the real store (SQLite), snapshots, clips and status rows."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import select

from guardian.common.db import utcnow
from guardian.edge.camera.config import CameraConfig
from guardian.edge.camera.manager import CameraMaintainer
from guardian.edge.context import EdgeContext, build_context
from guardian.edge.record.clip_maker import ClipMaintainer
from guardian.edge.record.disk import DiskGuard
from guardian.edge.record.probe import probe
from guardian.edge.store.tables import Camera, CameraStatus, Event, EventMedia, Recording
from tests.camera_scene import SHELF, BrightBoxDetector, make_scene_video
from tests.edge_fixtures import EdgeDb

T = TypeVar("T")
pytestmark = pytest.mark.slow


def wait_for(what: str, check: Callable[[], T | None], timeout: float = 40.0) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def ctx(sqlite_edge_db: EdgeDb) -> Iterator[EdgeContext]:
    settings = sqlite_edge_db.settings.model_copy(
        update={
            "cameras": sqlite_edge_db.settings.cameras.model_copy(
                update={"poll_seconds": 0.2, "status_seconds": 0.5, "clip_settle_seconds": 0.5}
            )
        }
    )
    context = build_context(settings)
    yield context
    context.engine.dispose()


def add_camera(ctx: EdgeContext, config: CameraConfig) -> None:
    now = utcnow()
    with ctx.sessions.begin() as session:
        session.add(
            Camera(
                name=config.name,
                config=config.stored(),
                enabled=True,
                created_at=now,
                updated_at=now,
                version=1,
            )
        )


def run_maintainers(ctx: EdgeContext, floor: int = 0) -> tuple[threading.Event, CameraMaintainer]:
    stop = threading.Event()
    cameras = CameraMaintainer(
        ctx, BrightBoxDetector(), stop, disk=DiskGuard(ctx.settings.media_dir, floor)
    )
    cameras.start()
    ClipMaintainer(ctx, stop, interval=0.3).start()
    return stop, cameras


def test_scene_becomes_events_snapshots_recordings_and_a_clip(
    ctx: EdgeContext, tmp_path_factory: pytest.TempPathFactory
) -> None:
    video = make_scene_video(tmp_path_factory.getbasetemp() / "scene" / "scene.mp4")
    config = CameraConfig(
        name="shop",
        url=video.as_uri(),
        zones=[{"name": "shelf", "polygon": SHELF, "interaction": True, "min_dwell": 2.0}],
        segment_seconds=2.0,
        pre_roll_s=1.0,
        post_roll_s=1.0,
    )
    add_camera(ctx, config)
    stop, cameras = run_maintainers(ctx)
    try:

        def status() -> CameraStatus | None:
            with ctx.sessions() as s:
                row = s.get(CameraStatus, "shop")
                return row if row is not None and row.state == "online" else None

        online = wait_for("camera online", status, 15)
        assert online.decoder == "software" and online.codec == "h264"
        assert (online.width, online.height) == (320, 240)

        def ended(kind: str) -> Callable[[], list[Event]]:
            def check() -> list[Event]:
                with ctx.sessions() as s:
                    rows = list(s.scalars(select(Event).where(Event.type == kind)))
                return [e for e in rows if e.details["state"] == "ended"]

            return check

        person = wait_for("a person event to end", ended("person_detected"))[0]
        visit = wait_for("an interaction to end", ended("interaction_detected"))[0]
        assert person.source_kind == "camera" and person.source_id == "shop"
        assert visit.details["zone"] == "shelf"
        # The person stands at the shelf 4 s and walks within it a little longer.
        assert 3.0 <= visit.details["dwell_s"] <= 6.5
        span = (person.ended_at - person.started_at).total_seconds()
        assert 5.0 <= span <= 9.0  # in view 8 s; tracks confirm and end with some delay

        def clip() -> EventMedia | None:
            with ctx.sessions() as s:
                row = s.get(EventMedia, (person.id, "clip"))
                return row if row is not None and row.state != "pending" else None

        clip_row = wait_for("the person's clip", clip, 40)
        assert clip_row.state == "present", clip_row.last_error
        assert clip_row.path is not None
        info = probe(ctx.settings.media_dir / clip_row.path)
        assert info.first_is_keyframe and info.faststart
        assert info.duration == pytest.approx(span + 2.0, abs=1.0)
        with ctx.sessions() as s:
            snaps = {
                m.kind: m
                for m in s.scalars(select(EventMedia).where(EventMedia.event_id == person.id))
            }
            recordings = list(s.scalars(select(Recording).where(Recording.camera == "shop")))
            events = list(s.scalars(select(Event).where(Event.source_id == "shop")))
        assert {"snapshot", "thumbnail", "clip"} <= set(snaps)
        for kind in ("snapshot", "thumbnail"):
            assert (ctx.settings.media_dir / str(snaps[kind].path)).stat().st_size > 0
        assert recordings and all((ctx.settings.media_dir / r.path).exists() for r in recordings)
        assert all(1.5 <= r.duration_s <= 3.5 for r in recordings[:-1])
        # One event per track, never one per frame: a pass makes a handful of rows at most.
        assert len(events) <= 6
    finally:
        stop.set()
        cameras.join(20)
    with ctx.sessions() as s:
        final = s.get(CameraStatus, "shop")
        assert final is not None and final.state == "offline"


def test_disabling_stops_the_camera_and_reports_it(ctx: EdgeContext, tmp_path: Path) -> None:
    video = make_scene_video(tmp_path / "scene.mp4")
    add_camera(ctx, CameraConfig(name="door", url=video.as_uri(), record=False))
    stop, cameras = run_maintainers(ctx)
    try:
        wait_for("running", lambda: "door" in cameras.running, 5)
        with ctx.sessions.begin() as s:
            row = s.get(Camera, "door")
            assert row is not None
            row.enabled = False
            row.version += 1

        def disabled() -> bool:
            with ctx.sessions() as s:
                st = s.get(CameraStatus, "door")
                return st is not None and st.state == "disabled" and "door" not in cameras.running

        wait_for("disabled status", disabled, 10)
    finally:
        stop.set()
        cameras.join(20)


def test_recording_pauses_under_the_disk_floor_while_events_go_on(
    ctx: EdgeContext, tmp_path: Path
) -> None:
    video = make_scene_video(tmp_path / "scene.mp4")
    add_camera(ctx, CameraConfig(name="yard", url=video.as_uri(), segment_seconds=2.0))
    stop, cameras = run_maintainers(ctx, floor=10**18)  # more than any disk has free
    try:

        def paused() -> CameraStatus | None:
            with ctx.sessions() as s:
                st = s.get(CameraStatus, "yard")
                return st if st is not None and st.recording == "paused_disk" else None

        wait_for("recording paused", paused, 15)

        def person_event() -> bool:
            with ctx.sessions() as s:
                return s.scalar(select(Event.id).where(Event.source_id == "yard")) is not None

        wait_for("an event despite the paused recording", person_event, 30)
        with ctx.sessions() as s:
            assert s.scalar(select(Recording.id).where(Recording.camera == "yard")) is None
    finally:
        stop.set()
        cameras.join(20)
