"""Cameras through OpenCV (a video file stands in for the device): interval and motion."""

from __future__ import annotations

import io
import logging
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from guardian.device.camera import CameraLoop, camera_label, changed_fraction
from guardian.device.sequence import SequenceStore
from guardian.device.sources import Intake
from guardian.device.spool import Spool


@pytest.fixture
def intake(tmp_path: Path) -> Intake:
    spool_dir = tmp_path / "spool"
    return Intake(Spool(spool_dir), SequenceStore(spool_dir / "device_seq"))


def test_changed_fraction() -> None:
    a = np.zeros((64, 64, 3), np.uint8)
    b = a.copy()
    assert changed_fraction(a, b) == 0.0
    b[:32] = 200
    assert changed_fraction(a, b) == pytest.approx(0.5)
    b = a + 10  # lighting noise below the pixel threshold
    assert changed_fraction(a, b) == 0.0
    assert changed_fraction(a, np.zeros((32, 32, 3), np.uint8)) == 1.0
    assert changed_fraction(a[:, :, 0], b[:, :, 0]) == 0.0


def _video(path: Path, values: list[int]) -> str:
    cv2 = pytest.importorskip("cv2")
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    assert writer.isOpened()
    for v in values:
        writer.write(np.full((48, 64, 3), v, np.uint8))
    writer.release()
    return str(path)


def _run_camera(loop: CameraLoop, intake: Intake, seconds: float) -> None:
    stop = threading.Event()
    thread = threading.Thread(target=loop.run, args=(intake, stop))
    thread.start()
    time.sleep(seconds)
    stop.set()
    thread.join()


def _jpeg_means(intake: Intake) -> list[float]:
    out = []
    for item in intake.spool.pending():
        data = item.read()
        assert data[:3] == b"\xff\xd8\xff"
        out.append(float(np.asarray(Image.open(io.BytesIO(data))).mean()))
    return out


def test_interval_captures_every_period(tmp_path: Path, intake: Intake) -> None:
    video = _video(tmp_path / "cam.avi", [100] * 5)
    _run_camera(CameraLoop(video, interval=0.05), intake, 0.6)
    means = _jpeg_means(intake)
    assert 4 <= len(means) <= 14  # ~12 at 20 Hz, with slack for a slow machine
    assert all(90 < m < 110 for m in means)
    seqs = intake.spool.pending_seqs()
    assert seqs == list(range(len(seqs)))


def test_motion_captures_only_changes(tmp_path: Path, intake: Intake) -> None:
    still = _video(tmp_path / "still.avi", [60] * 6)
    _run_camera(CameraLoop(still, interval=None, poll=0.01, min_gap=0), intake, 0.4)
    assert intake.spool.pending() == []

    moving = _video(tmp_path / "moving.avi", [20] * 5 + [220] * 5)
    _run_camera(CameraLoop(moving, interval=None, poll=0.01, min_gap=0), intake, 0.5)
    means = _jpeg_means(intake)
    assert means, "the change was not captured"
    assert all(m > 200 for m in means)  # the frame after the change, not before


def test_missing_camera_is_retried_not_fatal(
    intake: Intake, caplog: pytest.LogCaptureFixture
) -> None:
    pytest.importorskip("cv2")
    with caplog.at_level(logging.ERROR, logger="guardian.device.sources"):
        _run_camera(CameraLoop("/nonexistent/cam.avi", interval=0.05), intake, 0.2)
    assert any("camera unavailable" in r.getMessage() for r in caplog.records)
    assert intake.spool.pending() == []


def test_stream_credentials_stay_out_of_logs_and_names() -> None:
    assert camera_label("rtsp://admin:hunter2@10.0.0.5/stream") == "rtsp://10.0.0.5/stream"
    assert camera_label("0") == "0"
    assert CameraLoop("rtsp://a:b@h/s", interval=1).capture_name == "camera.jpg"
    assert CameraLoop("pi", interval=1).capture_name == "camera-pi.jpg"
