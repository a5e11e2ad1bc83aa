"""MediaPipe-style SSD anchors and box decoding."""

from __future__ import annotations

import math

import numpy as np
import pytest

from guardian.edge.detect.decoders.ssd import SsdAnchorOptions, SsdDecoder, generate_anchors


def test_oidv4_anchor_layout_has_1917_boxes() -> None:
    anchors = generate_anchors(SsdAnchorOptions())
    # 19x19x3 + 10x10x6 + 5x5x6 + 3x3x6 + 2x2x6 + 1x1x6
    assert anchors.shape == (1917, 4)
    # The lowest layer's three boxes: scale 0.1 square, then 0.2 at ratios 2 and 0.5.
    np.testing.assert_allclose(anchors[0], [0.5 / 19, 0.5 / 19, 0.1, 0.1], rtol=1e-6)
    np.testing.assert_allclose(anchors[1, 2:], [0.2 * math.sqrt(2), 0.2 / math.sqrt(2)], rtol=1e-6)
    # The last anchor is the interpolated-scale square of the 1x1 layer.
    np.testing.assert_allclose(anchors[-1], [0.5, 0.5, math.sqrt(0.95), math.sqrt(0.95)], rtol=1e-6)


def _encode(anchor: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """Inverse of the decoder's box coding, for a normalised (xc, yc, w, h) box."""
    xc, yc, w, h = box
    return np.asarray(
        [
            (yc - anchor[1]) / anchor[3] * 10.0,
            (xc - anchor[0]) / anchor[2] * 10.0,
            math.log(h / anchor[3]) * 5.0,
            math.log(w / anchor[2]) * 5.0,
        ],
        np.float32,
    )


def test_decodes_an_encoded_box_at_its_anchor() -> None:
    dec = SsdDecoder()
    n = dec.anchors.shape[0]
    boxes = np.zeros((n, 4), np.float32)
    logits = np.full((n, 24), -10.0, np.float32)
    idx = 1000
    boxes[idx] = _encode(dec.anchors[idx], (0.5, 0.4, 0.2, 0.6))
    logits[idx, 4] = 2.0  # class 4 ("Person") with sigmoid(2) = 0.881
    logits[idx + 1, 0] = 9.0  # background is ignored however confident
    got = dec.decode([boxes, logits], 0.5)
    assert got.class_ids.tolist() == [4]
    assert got.scores[0] == pytest.approx(1 / (1 + math.exp(-2.0)), rel=1e-5)
    np.testing.assert_allclose(got.boxes[0], [120, 30, 180, 210], atol=1e-3)


def test_min_score_filters_before_decoding() -> None:
    dec = SsdDecoder()
    n = dec.anchors.shape[0]
    logits = np.full((n, 24), -10.0, np.float32)
    logits[:5, 3] = 0.0  # sigmoid 0.5
    got = dec.decode([np.zeros((n, 4), np.float32), logits], 0.6)
    assert len(got) == 0
    assert len(dec.decode([np.zeros((n, 4), np.float32), logits], 0.4)) == 5


def test_wrong_box_count_is_reported() -> None:
    with pytest.raises(ValueError, match="anchors number 1917"):
        SsdDecoder().decode([np.zeros((10, 4), np.float32), np.zeros((10, 24), np.float32)], 0.5)
