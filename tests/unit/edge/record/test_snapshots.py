"""Snapshots: full frame JPEG plus a thumbnail cropped around the object, written atomically."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from guardian.edge.record.snapshots import THUMB_SIZE, thumbnail_crop, write_snapshot


def test_thumbnail_crop_stays_inside_the_frame() -> None:
    assert thumbnail_crop((0, 0, 10, 10), 100, 100)[:2] == (0, 0)
    x0, y0, x1, y1 = thumbnail_crop((90, 90, 100, 100), 100, 100)
    assert 0 <= x0 < x1 <= 100 and 0 <= y0 < y1 <= 100
    x0, y0, x1, y1 = thumbnail_crop((40, 20, 60, 80), 640, 480)
    assert x1 - x0 >= 60 and y1 - y0 >= 60  # the box plus context


def test_write_snapshot(tmp_path: Path) -> None:
    frame = np.zeros((480, 640, 3), np.uint8)
    frame[100:400, 300:400] = (255, 0, 0)  # a red "person" (RGB)
    files = write_snapshot(tmp_path, "door", "ev1", 1_700_000_000.0, frame, (300, 100, 400, 400))
    assert files.snapshot == "snapshots/door/2023/11/14/ev1.jpg"
    snap = cv2.imread(str(tmp_path / files.snapshot))
    thumb = cv2.imread(str(tmp_path / files.thumbnail))
    assert snap.shape == (480, 640, 3)
    assert max(thumb.shape[:2]) <= THUMB_SIZE
    b, _g, r = snap[250, 350]
    assert r > 200 and b < 60  # colours kept (RGB in, BGR JPEG on disk)
    assert not list(tmp_path.rglob("*.part"))
    assert files.snapshot_bytes == (tmp_path / files.snapshot).stat().st_size
