"""A really full disk (a 4 MiB tmpfs): recording fails softly, detection and events go on."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from guardian.common.db import sqlite_url
from guardian.edge.camera.config import CameraConfig
from guardian.edge.camera.manager import CameraMaintainer
from guardian.edge.config import EdgeSettings
from guardian.edge.context import EdgeContext, build_context
from guardian.edge.record.disk import DiskGuard
from guardian.edge.store.tables import CameraStatus, Event
from tests.camera_scene import BrightBoxDetector, make_scene_video
from tests.integration.edge.camera.test_pipeline import add_camera, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture
def ctx(tmp_path: Path, small_disk: Path) -> Iterator[EdgeContext]:
    # The database lives on the big disk; only the media folder is on the small one.
    settings = EdgeSettings(
        data_dir=small_disk,
        database_url=sqlite_url(tmp_path / "edge.db"),
        cameras={"poll_seconds": 0.2, "status_seconds": 0.5},
    )
    context = build_context(settings)
    yield context
    context.engine.dispose()


def fill(path: Path, leave: int) -> None:
    """Fill the filesystem of ``path`` until only about ``leave`` bytes are free."""
    free = os.statvfs(path).f_bavail * os.statvfs(path).f_frsize
    with open(path / "filler", "wb") as fh:
        fh.write(b"\0" * max(0, free - leave))


def test_recording_errors_on_a_full_disk_while_events_go_on(
    ctx: EdgeContext, tmp_path: Path
) -> None:
    video = make_scene_video(tmp_path / "scene.mp4")
    add_camera(ctx, CameraConfig(name="attic", url=video.as_uri(), segment_seconds=2.0))
    fill(ctx.settings.media_dir, 8 * 1024)
    stop = threading.Event()
    cameras = CameraMaintainer(
        ctx, BrightBoxDetector(), stop, disk=DiskGuard(ctx.settings.media_dir, 0)
    )
    cameras.start()
    try:

        def recording_error() -> CameraStatus | None:
            with ctx.sessions() as s:
                st = s.get(CameraStatus, "attic")
                return st if st is not None and st.recording == "error" else None

        status = wait_for("the recorder to fail", recording_error, 30)
        assert status.state == "online"
        assert status.last_error is not None and "recording" in status.last_error

        def events() -> list[Event]:
            with ctx.sessions() as s:
                return list(s.scalars(select(Event).where(Event.source_id == "attic")))

        assert wait_for("events while the disk is full", events, 30)
        assert cameras.is_alive()
    finally:
        stop.set()
        cameras.join(20)
