"""Detection masks: drop detections whose feet stand inside a masked polygon."""

from __future__ import annotations

from collections.abc import Sequence

from guardian.edge.detect.types import Detection
from guardian.edge.track.geometry import (
    Polygon,
    bottom_centre_fraction,
    point_in_polygon,
    validate_polygon,
)


def is_masked(detection: Detection, masks: Sequence[Polygon], frame_size: tuple[int, int]) -> bool:
    """True when the detection's bottom centre lies inside (or on) any mask polygon."""
    x, y = bottom_centre_fraction(detection.box, frame_size)
    return any(point_in_polygon(x, y, mask) for mask in masks)


def apply_mask(
    detections: Sequence[Detection],
    masks: Sequence[Polygon],
    frame_size: tuple[int, int],
) -> list[Detection]:
    """Detections whose bottom centre is outside every mask, in their original order.

    ``masks`` are polygons in fractions of the frame's width and height (like zones), and
    ``frame_size`` is ``(width, height)`` of the frame the detection boxes are in pixels of.
    The feet, not the box, decide: a person walking in front of a masked-out TV or a parked
    car's reflection is kept unless they stand in the masked area.
    """
    for mask in masks:
        # Validate up front so a bad mask fails even on frames without detections.
        validate_polygon(mask)
    if not masks:
        return list(detections)
    return [d for d in detections if not is_masked(d, masks, frame_size)]
