"""apply_mask drops detections whose bottom centre (feet) is inside a mask polygon."""

from __future__ import annotations

import pytest

from guardian.edge.detect.types import Detection
from guardian.edge.track.masks import apply_mask, is_masked

FRAME = (800, 600)
# The bottom-right quarter of the frame.
CORNER = [(0.5, 0.5), (1.0, 0.5), (1.0, 1.0), (0.5, 1.0)]


def det(box: tuple[float, float, float, float], label: str = "person") -> Detection:
    return Detection(label=label, source_label=label, score=0.9, box=box)


def test_feet_inside_mask_are_dropped() -> None:
    inside = det((500.0, 300.0, 600.0, 500.0))  # feet at (550, 500) -> (0.69, 0.83)
    outside = det((100.0, 300.0, 200.0, 500.0))
    assert apply_mask([inside, outside], [CORNER], FRAME) == [outside]


def test_box_overlapping_mask_with_feet_outside_is_kept() -> None:
    # The box reaches well into the masked corner, but its feet stand left of it.
    leaning = det((250.0, 310.0, 450.0, 590.0))  # feet at (350, 590) -> (0.4375, 0.98)
    assert apply_mask([leaning], [CORNER], FRAME) == [leaning]


def test_feet_on_mask_edge_count_as_inside() -> None:
    on_edge = det((300.0, 310.0, 500.0, 590.0))  # feet at (400, 590) -> x = 0.5, the edge
    assert is_masked(on_edge, [CORNER], FRAME)


def test_feet_on_frame_bottom_inside_border_mask() -> None:
    strip = [(0.0, 0.9), (1.0, 0.9), (1.0, 1.0), (0.0, 1.0)]
    assert apply_mask([det((10.0, 400.0, 50.0, 600.0))], [strip], FRAME) == []


def test_any_of_several_masks_and_order_kept() -> None:
    left = [(0.0, 0.0), (0.2, 0.0), (0.2, 1.0), (0.0, 1.0)]
    dets = [
        det((10.0, 0.0, 50.0, 100.0)),  # in left
        det((300.0, 0.0, 340.0, 100.0), "car"),  # free
        det((600.0, 400.0, 640.0, 500.0)),  # in corner
        det((350.0, 0.0, 390.0, 100.0)),  # free
    ]
    assert apply_mask(dets, [left, CORNER], FRAME) == [dets[1], dets[3]]


def test_concave_mask() -> None:
    # An "L": the top-right square of the frame is not masked.
    ell = [(0.0, 0.0), (0.5, 0.0), (0.5, 0.5), (1.0, 0.5), (1.0, 1.0), (0.0, 1.0)]
    top_right = det((600.0, 50.0, 700.0, 200.0))  # feet (0.81, 0.33)
    bottom_right = det((600.0, 300.0, 700.0, 500.0))  # feet (0.81, 0.83)
    assert apply_mask([top_right, bottom_right], [ell], FRAME) == [top_right]


def test_no_masks_keeps_everything() -> None:
    dets = [det((0.0, 0.0, 10.0, 10.0))]
    assert apply_mask(dets, [], FRAME) == dets


def test_invalid_mask_raises_even_without_detections() -> None:
    with pytest.raises(ValueError):
        apply_mask([], [[(0.0, 0.0), (1.0, 1.0)]], FRAME)
