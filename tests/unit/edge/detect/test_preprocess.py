"""Resizing, letterboxing and normalisation, checked against a plain numpy reference."""

from __future__ import annotations

import numpy as np
import pytest

from guardian.edge.detect.preprocess import (
    InputSpec,
    Normalizer,
    ensure_rgb,
    plan_transform,
    resize_to_input,
)

SPECS = [
    InputSpec(30, 20, mean=(127.5,) * 3, std=(127.5,) * 3),
    InputSpec(30, 20, layout="NCHW", std=(255.0,) * 3),
    InputSpec(
        32, 24, layout="NCHW", color="BGR", mean=(103.5, 116.3, 123.7), std=(57.4, 57.1, 58.4)
    ),
    InputSpec(32, 24, layout="NHWC", color="BGR", mean=(1.0, 2.0, 3.0), std=(2.0, 3.0, 4.0)),
    InputSpec(32, 24, layout="NHWC", color="BGR", mean=(10.0,) * 3, std=(2.0,) * 3),
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: f"{s.layout}-{s.color}")
def test_normalizer_matches_numpy_reference(spec: InputSpec) -> None:
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 256, (spec.height, spec.width, 3), dtype=np.uint8) for _ in range(3)]
    got = Normalizer(spec)(images)
    ref = np.stack(images).astype(np.float32)
    if spec.color == "BGR":
        ref = ref[..., ::-1]
    ref = (ref - np.asarray(spec.mean, np.float32)) / np.asarray(spec.std, np.float32)
    if spec.layout == "NCHW":
        ref = ref.transpose(0, 3, 1, 2)
    assert got.dtype == np.float32 and got.shape == ref.shape
    np.testing.assert_allclose(got, ref, atol=1e-5)


def test_stretch_maps_corners_to_corners() -> None:
    spec = InputSpec(300, 300)
    t = plan_transform(600, 400, spec)
    boxes = np.asarray([[0, 0, 300, 300], [150, 150, 300, 300]], np.float32)
    np.testing.assert_allclose(t.to_frame(boxes), [[0, 0, 600, 400], [300, 200, 600, 400]])


def test_letterbox_centres_and_inverts() -> None:
    spec = InputSpec(64, 64, resize="letterbox")
    frame = np.full((32, 128, 3), 200, np.uint8)
    image, t = resize_to_input(frame, spec)
    assert image.shape == (64, 64, 3)
    # 128x32 at scale 0.5 is 64x16: 24 px bands above and below.
    assert (t.scale_x, t.pad_x, t.pad_y) == (0.5, 0.0, 24.0)
    assert image[23, 0, 0] == spec.pad_value and image[24, 0, 0] == 200
    assert image[39, 63, 0] == 200 and image[40, 0, 0] == spec.pad_value
    back = t.to_frame(np.asarray([[0, 24, 64, 40]], np.float32))
    np.testing.assert_allclose(back, [[0, 0, 128, 32]])


def test_letterbox_topleft_pads_right_and_bottom_only() -> None:
    spec = InputSpec(64, 64, resize="letterbox_topleft")
    image, t = resize_to_input(np.full((32, 128, 3), 7, np.uint8), spec)
    assert (t.pad_x, t.pad_y) == (0.0, 0.0)
    assert image[0, 0, 0] == 7 and image[15, 63, 0] == 7 and image[16, 0, 0] == spec.pad_value


def test_boxes_are_clipped_to_the_frame() -> None:
    t = plan_transform(100, 50, InputSpec(100, 50))
    out = t.to_frame(np.asarray([[-5, -5, 120, 70]], np.float32))
    np.testing.assert_allclose(out, [[0, 0, 100, 50]])


def test_ensure_rgb_accepts_grey_rgba_and_float() -> None:
    assert ensure_rgb(np.zeros((4, 5), np.uint8)).shape == (4, 5, 3)
    assert ensure_rgb(np.zeros((4, 5, 4), np.uint8)).shape == (4, 5, 3)
    assert ensure_rgb(np.zeros((4, 5, 1), np.uint8)).shape == (4, 5, 3)
    as_float = ensure_rgb(np.full((2, 2, 3), 0.5, np.float32))
    assert as_float.dtype == np.uint8 and int(as_float[0, 0, 0]) == 127
    with pytest.raises(ValueError, match="HxW"):
        ensure_rgb(np.zeros((2, 2, 2, 2), np.uint8))
