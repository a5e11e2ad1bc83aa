"""CenterNet decoder: 3x3 peak extraction, top-k and boxes from the four extents."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from guardian.edge.detect.decoders.centernet import CenterNetDecoder
from guardian.edge.detect.types import FloatArray

NC = 3
SIZE = 128  # 128x128 input, stride 4 -> 32x32 cells
GRID = SIZE // 4


def maps() -> tuple[FloatArray, FloatArray]:
    return np.zeros((GRID, GRID, NC), np.float32), np.zeros((GRID, GRID, 4), np.float32)


def decoder(max_detections: int = 100) -> CenterNetDecoder:
    return CenterNetDecoder(SIZE, SIZE, num_classes=NC, max_detections=max_detections)


def test_decodes_known_peak_and_extents() -> None:
    heat, wh = maps()
    heat[9:12, 19:22, 2] = 0.5  # lower neighbours
    heat[10, 20, 2] = 0.8  # anchor (col 20 * 4, row 10 * 4) = (80, 40)
    wh[10, 20] = [5.0, 6.0, 7.0, 8.0]  # left, top, right, bottom

    got = decoder().decode([heat, wh], 0.3)

    np.testing.assert_array_equal(got.boxes, np.array([[75.0, 34.0, 87.0, 48.0]], np.float32))
    np.testing.assert_array_equal(got.scores, np.array([0.8], np.float32))
    np.testing.assert_array_equal(got.class_ids, [2])
    assert got.boxes.dtype == np.float32 and got.class_ids.dtype == np.int64


def test_higher_neighbour_suppresses_only_within_its_class() -> None:
    heat, wh = maps()
    heat[5, 5, 0] = 0.6
    heat[6, 6, 0] = 0.7  # diagonal neighbour, same class: suppresses (5, 5)
    heat[5, 6, 1] = 0.9  # neighbour in another class: does not
    got = decoder().decode([heat, wh], 0.3)
    assert sorted(zip(got.class_ids.tolist(), got.scores.tolist(), strict=True)) == [
        (0, pytest.approx(0.7)),
        (1, pytest.approx(0.9)),
    ]


def test_equal_neighbours_are_both_peaks_like_tf_maxpool_equal() -> None:
    heat, wh = maps()
    heat[3, 3, 2] = heat[3, 4, 2] = 0.5
    got = decoder().decode([heat, wh], 0.3)
    assert len(got) == 2


def test_border_and_corner_peaks() -> None:
    heat, wh = maps()
    heat[0, 0, 0] = 0.9
    heat[GRID - 1, GRID - 1, 1] = 0.8
    heat[0, GRID - 1, 2] = 0.7
    wh[GRID - 1, GRID - 1] = [4.0, 4.0, 100.0, 100.0]
    got = decoder().decode([heat, wh], 0.3)
    np.testing.assert_array_equal(got.class_ids, [0, 1, 2])
    np.testing.assert_array_equal(got.boxes[1], np.array([120.0, 120.0, 128.0, 128.0], np.float32))


def test_top_k_keeps_the_best_sorted() -> None:
    heat, wh = maps()
    scores = [0.35, 0.9, 0.5, 0.8, 0.4]
    for k, s in enumerate(scores):
        heat[4 * k, 4 * k, 0] = s
    got = decoder(max_detections=3).decode([heat, wh], 0.3)
    np.testing.assert_allclose(got.scores, [0.9, 0.8, 0.5])


def test_threshold_and_empty() -> None:
    heat, wh = maps()
    heat[7, 7, 1] = 0.29
    assert len(decoder().decode([heat, wh], 0.3)) == 0
    heat[7, 7, 1] = 0.3
    assert len(decoder().decode([heat, wh], 0.3)) == 1


def test_matches_brute_force_maxpool_on_random_heatmap() -> None:
    rng = np.random.default_rng(7)
    heat = rng.random((GRID, GRID, NC), dtype=np.float32)
    wh = rng.uniform(0, 30, (GRID, GRID, 4)).astype(np.float32)
    padded = np.pad(heat, ((1, 1), (1, 1), (0, 0)), constant_values=-np.inf)
    pooled = sliding_window_view(padded, (3, 3), axis=(0, 1)).max(axis=(-2, -1))
    keep = (heat == pooled) & (heat >= 0.5)
    rows, cols, cls = np.nonzero(keep)
    order = np.argsort(-heat[rows, cols, cls], kind="stable")
    rows, cols, cls = rows[order], cols[order], cls[order]
    ext = wh[rows, cols]
    anchor = np.stack([cols, rows], axis=1).astype(np.float32) * 4
    want = np.clip(np.concatenate([anchor - ext[:, :2], anchor + ext[:, 2:]], axis=1), 0, SIZE)

    got = decoder(max_detections=10_000).decode([heat[None], wh[None]], 0.5)

    assert len(got) == len(rows) > 20
    np.testing.assert_array_equal(got.class_ids, cls)
    np.testing.assert_array_equal(got.boxes, want.astype(np.float32))


def test_wrong_shapes_are_rejected() -> None:
    heat, wh = maps()
    with pytest.raises(ValueError, match="heatmap"):
        decoder().decode([wh, heat], 0.3)
    with pytest.raises(ValueError, match="2 outputs"):
        decoder().decode([heat], 0.3)
