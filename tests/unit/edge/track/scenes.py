"""Helpers that build synthetic detections and run a tracker over them."""

from __future__ import annotations

from collections.abc import Sequence

from guardian.edge.detect.types import Detection
from guardian.edge.track.tracker import Tracker, TrackUpdate


def box_det(
    cx: float,
    cy: float,
    w: float = 40.0,
    h: float = 100.0,
    score: float = 0.9,
    label: str = "person",
) -> Detection:
    """A detection of a ``w`` x ``h`` box centred on ``(cx, cy)``."""
    return Detection(
        label=label,
        source_label=label,
        score=score,
        box=(cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0),
    )


def run(tracker: Tracker, frames: Sequence[tuple[float, Sequence[Detection]]]) -> list[TrackUpdate]:
    """Feed ``(t, detections)`` frames in order; returns every update."""
    return [tracker.update(dets, t) for t, dets in frames]


def centre(box: tuple[float, float, float, float]) -> tuple[float, float]:
    """Centre of an xyxy box."""
    return (box[0] + box[2]) / 2.0, (box[1] + box[3]) / 2.0
