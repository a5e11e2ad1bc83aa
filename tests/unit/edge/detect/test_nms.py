"""IoU and (class-aware) non-maximum suppression."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from guardian.edge.detect.nms import class_aware_nms, iou_matrix, nms
from guardian.edge.detect.types import Candidates


def _c(boxes: list[list[float]], scores: list[float], classes: list[int]) -> Candidates:
    return Candidates(
        np.asarray(boxes, np.float32), np.asarray(scores, np.float32), np.asarray(classes)
    )


def test_iou_of_known_boxes() -> None:
    a = np.asarray([[0, 0, 10, 10]], np.float32)
    b = np.asarray([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 0, 0]], np.float32)
    np.testing.assert_allclose(iou_matrix(a, b)[0], [1.0, 50 / 150, 0.0, 0.0], rtol=1e-6)


def test_nms_keeps_the_best_of_overlapping_boxes() -> None:
    boxes = np.asarray([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], np.float32)
    keep = nms(boxes, np.asarray([0.5, 0.9, 0.7], np.float32), 0.5)
    assert keep.tolist() == [1, 2]


def test_class_aware_nms_never_suppresses_across_classes() -> None:
    c = _c([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10]], [0.9, 0.8, 0.7], [1, 2, 1])
    kept = class_aware_nms(c, 0.5)
    assert sorted(kept.class_ids.tolist()) == [1, 2]
    assert kept.scores.tolist() == [np.float32(0.9), np.float32(0.8)]


def test_class_aware_nms_caps_the_count() -> None:
    boxes = [[i * 20, 0, i * 20 + 10, 10] for i in range(10)]
    kept = class_aware_nms(_c(boxes, [0.5] * 10, [0] * 10), 0.5, max_detections=3)
    assert len(kept) == 3


def test_empty_input() -> None:
    assert len(class_aware_nms(Candidates.empty(), 0.5)) == 0


box = st.tuples(st.floats(0, 100), st.floats(0, 100), st.floats(1, 50), st.floats(1, 50)).map(
    lambda t: [t[0], t[1], t[0] + t[2], t[1] + t[3]]
)


@given(st.lists(box, min_size=1, max_size=25), st.floats(0.1, 0.9))
def test_kept_boxes_of_a_class_overlap_less_than_the_threshold(
    boxes: list[list[float]], threshold: float
) -> None:
    arr = np.asarray(boxes, np.float32)
    scores = np.linspace(1.0, 0.1, len(boxes)).astype(np.float32)
    keep = nms(arr, scores, threshold)
    kept = arr[keep]
    ious = iou_matrix(kept, kept)
    np.fill_diagonal(ious, 0.0)
    assert float(ious.max(initial=0.0)) <= threshold + 1e-6
    assert keep[0] == 0  # the best-scoring box always survives
