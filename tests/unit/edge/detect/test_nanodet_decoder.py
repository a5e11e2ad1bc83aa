"""NanoDet decoder on hand-made score maps and bin distributions with known boxes."""

from __future__ import annotations

import numpy as np
import pytest

from guardian.edge.detect.decoders.nanodet import NanoDetDecoder
from guardian.edge.detect.types import FloatArray

NC = 3
BINS = 11  # reg_max 10
# 64x64 input, strides 8/16/32 -> 8x8, 4x4 and 2x2 cells.
CELLS = {8: 64, 16: 16, 32: 4}


def blank(width: int = 64, height: int = 64) -> list[FloatArray]:
    """All-zero outputs (cls per stride, then reg per stride) for a width x height input."""
    cells = [-(-width // s) * -(-height // s) for s in (8, 16, 32)]
    cls = [np.zeros((n, NC), np.float32) for n in cells]
    reg = [np.zeros((n, 4 * BINS), np.float32) for n in cells]
    return cls + reg


def put_distance(reg: FloatArray, cell: int, side: int, bins: dict[int, float]) -> None:
    """Make ``side``'s softmax put the given probability on each bin (rest ~0)."""
    logits = np.full(BINS, -200.0, np.float32)
    for b, p in bins.items():
        logits[b] = np.log(p)
    reg[cell, side * BINS : (side + 1) * BINS] = logits


def test_decodes_known_box_from_distributions() -> None:
    outs = blank()
    cls16, reg16 = outs[1], outs[4]
    cell = 1 * 4 + 2  # stride 16: row 1, col 2 -> centre (40, 24)
    cls16[cell, 2] = 0.9
    put_distance(reg16, cell, 0, {1: 1.0})  # left 1 bin -> 16 px
    put_distance(reg16, cell, 1, {0: 0.5, 1: 0.5})  # top 0.5 bins -> 8 px
    put_distance(reg16, cell, 2, {0: 0.25, 1: 0.75})  # right 0.75 bins -> 12 px
    put_distance(reg16, cell, 3, {2: 1.0})  # bottom 2 bins -> 32 px

    got = NanoDetDecoder(64, 64, num_classes=NC).decode(outs, 0.5)

    np.testing.assert_allclose(got.boxes, [[24.0, 16.0, 52.0, 56.0]], atol=1e-4)
    np.testing.assert_array_equal(got.scores, np.array([0.9], np.float32))
    np.testing.assert_array_equal(got.class_ids, [2])
    assert got.boxes.dtype == np.float32 and got.class_ids.dtype == np.int64


def test_every_stride_uses_its_own_grid_and_scale() -> None:
    outs = blank()
    expected = []
    for k, (stride, cell, row, col) in enumerate([(8, 63, 7, 7), (16, 0, 0, 0), (32, 3, 1, 1)]):
        outs[k][cell, 0] = 0.6 + 0.1 * k
        for side in range(4):
            put_distance(outs[3 + k], cell, side, {0: 0.5, 1: 0.5})  # 0.5 bins each side
        cx, cy = (col + 0.5) * stride, (row + 0.5) * stride
        half = 0.5 * stride
        expected.append([cx - half, cy - half, cx + half, cy + half])

    got = NanoDetDecoder(64, 64, num_classes=NC).decode(outs, 0.5)

    order = np.argsort(got.scores)
    np.testing.assert_allclose(got.boxes[order], expected, atol=1e-4)
    np.testing.assert_allclose(got.scores[order], [0.6, 0.7, 0.8], atol=1e-6)


def test_cells_are_row_major_on_non_square_input() -> None:
    # 64 wide x 32 high: stride 8 has 8 columns and 4 rows.
    outs = blank(64, 32)
    cell = 2 * 8 + 5  # row 2, col 5 -> centre (44, 20)
    outs[0][cell, 1] = 0.7
    for side in range(4):
        put_distance(outs[3], cell, side, {1: 1.0})  # 8 px each side

    got = NanoDetDecoder(64, 32, num_classes=NC).decode(outs, 0.5)

    np.testing.assert_allclose(got.boxes, [[36.0, 12.0, 52.0, 28.0]], atol=1e-4)


def test_threshold_is_inclusive_and_several_classes_share_a_box() -> None:
    outs = blank()
    outs[2][0, 0] = 0.5  # exactly min_score: kept
    outs[2][0, 2] = 0.75  # same cell, other class: kept with the same box
    outs[2][1, 1] = 0.49  # below: dropped
    got = NanoDetDecoder(64, 64, num_classes=NC).decode(outs, 0.5)

    assert sorted(got.class_ids.tolist()) == [0, 2]
    np.testing.assert_array_equal(got.boxes[0], got.boxes[1])


def test_boxes_are_clipped_to_the_input() -> None:
    outs = blank()
    outs[2][0, 0] = 0.9  # stride 32, centre (16, 16)
    for side in range(4):
        put_distance(outs[5], 0, side, {10: 1.0})  # 10 bins * 32 = 320 px
    got = NanoDetDecoder(64, 64, num_classes=NC).decode(outs, 0.5)
    np.testing.assert_allclose(got.boxes, [[0.0, 0.0, 64.0, 64.0]])


def test_nothing_above_threshold_gives_empty_candidates() -> None:
    got = NanoDetDecoder(64, 64, num_classes=NC).decode(blank(), 0.1)
    assert len(got) == 0
    assert got.boxes.shape == (0, 4)


def test_accepts_batch_dimension() -> None:
    outs = blank()
    outs[0][10, 1] = 0.8
    batched = [o[None] for o in outs]
    dec = NanoDetDecoder(64, 64, num_classes=NC)
    a, b = dec.decode(outs, 0.5), dec.decode(batched, 0.5)
    np.testing.assert_array_equal(a.boxes, b.boxes)


def test_wrong_output_order_is_rejected() -> None:
    outs = blank()
    swapped = outs[3:] + outs[:3]
    with pytest.raises(ValueError, match="class-score output for stride 8"):
        NanoDetDecoder(64, 64, num_classes=NC).decode(swapped, 0.5)
    with pytest.raises(ValueError, match="needs 6 outputs"):
        NanoDetDecoder(64, 64, num_classes=NC).decode(outs[:5], 0.5)


def test_default_416_grid_matches_human_models_nanodet() -> None:
    dec = NanoDetDecoder(416, 416)
    outs = [np.zeros((n, 80), np.float32) for n in (2704, 676, 169)]
    outs += [np.zeros((n, 44), np.float32) for n in (2704, 676, 169)]
    outs[0][2703, 0] = 0.9  # last stride-8 cell: centre (412, 412); uniform bins -> 5 * 8
    got = dec.decode(outs, 0.5)
    np.testing.assert_allclose(got.boxes, [[372.0, 372.0, 416.0, 416.0]], atol=1e-4)
