"""Decoding images: full size, reduced JPEG decode, EXIF orientation, clear errors."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from guardian.edge.detect.errors import ImageReadError
from guardian.edge.detect.images import decode_image, read_image
from guardian.edge.detect.types import Detection


def _jpeg(w: int, h: int, orientation: int | None = None) -> bytes:
    img = Image.fromarray(np.random.default_rng(0).integers(0, 255, (h, w, 3), np.uint8))
    buf = io.BytesIO()
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    img.save(buf, format="JPEG", quality=90, exif=exif.tobytes())
    return buf.getvalue()


def test_reduced_jpeg_decode_covers_the_minimum_and_maps_boxes_back() -> None:
    decoded = decode_image(_jpeg(1280, 720), min_size=(300, 300))
    h, w = decoded.rgb.shape[:2]
    assert (decoded.full_width, decoded.full_height) == (1280, 720)
    assert w >= 300 and h >= 300 and w < 1280  # a DCT-scaled decode
    det = Detection("person", "person", 0.9, (10.0, 20.0, 30.0, 40.0))
    full = decoded.to_full(det)
    assert full.box == pytest.approx(
        (10 / decoded.scale_x, 20 / decoded.scale_y, 30 / decoded.scale_x, 40 / decoded.scale_y)
    )


def test_full_decode_without_minimum() -> None:
    decoded = decode_image(_jpeg(64, 48))
    assert decoded.rgb.shape == (48, 64, 3) and decoded.scale_x == 1.0


def test_exif_quarter_turn_swaps_the_full_size() -> None:
    decoded = decode_image(_jpeg(640, 320, orientation=6), min_size=(100, 100))
    assert (decoded.full_width, decoded.full_height) == (320, 640)
    assert decoded.rgb.shape[0] > decoded.rgb.shape[1]


def test_truncated_and_non_images_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ImageReadError, match="unreadable"):
        decode_image(_jpeg(640, 480)[:3000], min_size=(100, 100))
    with pytest.raises(ImageReadError, match="not an image"):
        decode_image(b"hello world")
    with pytest.raises(ImageReadError, match="no such file"):
        read_image(tmp_path / "nope.jpg")
