"""Event snapshots: the best frame as a JPEG, and a thumbnail cropped around the object."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from guardian.common.fsutil import fsync_dir
from guardian.edge.detect.types import Box

RgbImage = npt.NDArray[np.uint8]
JPEG_QUALITY = 85
THUMB_SIZE = 240
THUMB_PAD = 0.25  # context around the object, as a fraction of its size


@dataclass(frozen=True, slots=True)
class SnapshotFiles:
    """Paths (relative to the media folder) and sizes of one event's snapshot and thumbnail."""

    snapshot: str
    snapshot_bytes: int
    thumbnail: str
    thumbnail_bytes: int
    width: int
    height: int


def snapshot_dir(camera: str, ts: float) -> Path:
    """``snapshots/<camera>/<YYYY>/<MM>/<DD>`` (UTC), relative to the media folder."""
    day = dt.datetime.fromtimestamp(ts, dt.UTC)
    return Path("snapshots") / camera / f"{day:%Y}" / f"{day:%m}" / f"{day:%d}"


def thumbnail_crop(box: Box, width: int, height: int) -> tuple[int, int, int, int]:
    """A square-ish crop ``(x0, y0, x1, y1)`` around ``box`` with some context, in the frame."""
    x0, y0, x1, y1 = box
    side = max(x1 - x0, y1 - y0) * (1 + 2 * THUMB_PAD)
    side = max(side, 32.0)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    left = int(max(0.0, min(cx - side / 2, width - side)))
    top = int(max(0.0, min(cy - side / 2, height - side)))
    right = int(min(width, left + side))
    bottom = int(min(height, top + side))
    return left, top, max(right, left + 1), max(bottom, top + 1)


def _encode(image_rgb: RgbImage) -> bytes:
    ok, buf = cv2.imencode(
        ".jpg", cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]
    )
    if not ok:
        raise OSError("JPEG encoding failed")
    return bytes(buf)


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def write_snapshot(
    media_dir: Path, camera: str, event_id: str, ts: float, frame: RgbImage, box: Box
) -> SnapshotFiles:
    """Write (or replace) the event's snapshot and thumbnail; crash-safe (temp, fsync, rename)."""
    height, width = frame.shape[:2]
    rel = snapshot_dir(camera, ts)
    full = _encode(frame)
    x0, y0, x1, y1 = thumbnail_crop(box, width, height)
    crop = frame[y0:y1, x0:x1]
    scale = THUMB_SIZE / max(crop.shape[0], crop.shape[1])
    if scale < 1:
        size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
        crop = np.asarray(cv2.resize(crop, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)
    thumb = _encode(np.ascontiguousarray(crop))
    snap_rel, thumb_rel = rel / f"{event_id}.jpg", rel / f"{event_id}-thumb.jpg"
    _write_atomic(media_dir / snap_rel, full)
    _write_atomic(media_dir / thumb_rel, thumb)
    return SnapshotFiles(str(snap_rel), len(full), str(thumb_rel), len(thumb), width, height)
