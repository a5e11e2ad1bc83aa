"""Planar geometry shared by masks and zones: point-in-polygon and box anchor points."""

from __future__ import annotations

import math
from collections.abc import Sequence

from guardian.edge.detect.types import Box

Point = Sequence[float]
Polygon = Sequence[Point]

# Distance under which a point counts as lying on an edge. Polygons are usually in frame
# fractions, where 1e-9 is far below a pixel, and in pixels it is far below float noise.
EDGE_EPS = 1e-9


def validate_polygon(polygon: Polygon) -> None:
    """Raise ``ValueError`` unless ``polygon`` has at least 3 vertices of 2 finite numbers."""
    if len(polygon) < 3:
        raise ValueError(f"a polygon needs at least 3 vertices, got {len(polygon)}")
    for vertex in polygon:
        if len(vertex) != 2:
            raise ValueError(f"a polygon vertex must be [x, y], got {list(vertex)!r}")
        if not all(math.isfinite(float(v)) for v in vertex):
            raise ValueError(f"a polygon vertex must be finite, got {list(vertex)!r}")


def _on_segment(x: float, y: float, ax: float, ay: float, bx: float, by: float) -> bool:
    dx, dy = bx - ax, by - ay
    length_sq = dx * dx + dy * dy
    if length_sq == 0.0:
        return abs(x - ax) <= EDGE_EPS and abs(y - ay) <= EDGE_EPS
    cross = (x - ax) * dy - (y - ay) * dx
    # |cross| / |ab| is the distance from the point to the edge's line.
    if cross * cross > EDGE_EPS * EDGE_EPS * length_sq:
        return False
    dot = (x - ax) * dx + (y - ay) * dy
    slack = EDGE_EPS * math.sqrt(length_sq)
    return -slack <= dot <= length_sq + slack


def point_in_polygon(x: float, y: float, polygon: Polygon) -> bool:
    """True when ``(x, y)`` is inside ``polygon`` or on its boundary.

    Works for convex and concave simple polygons (even-odd rule, so a self-intersecting
    polygon's overlapping lobes count as outside). The polygon may be open or closed (a
    repeated first vertex is harmless). Points on an edge or vertex count as inside, so a
    zone or mask drawn up to the frame border still catches objects touching that border.
    """
    validate_polygon(polygon)
    n = len(polygon)
    inside = False
    for i in range(n):
        ax, ay = float(polygon[i][0]), float(polygon[i][1])
        bx, by = float(polygon[(i + 1) % n][0]), float(polygon[(i + 1) % n][1])
        if _on_segment(x, y, ax, ay, bx, by):
            return True
        # Half-open rule on y (ay > y) != (by > y) counts a vertex exactly at the ray's
        # height once, so rays through vertices do not double-toggle.
        if (ay > y) != (by > y):
            x_cross = ax + (y - ay) * (bx - ax) / (by - ay)
            if x < x_cross:
                inside = not inside
    return inside


def bottom_centre(box: Box) -> tuple[float, float]:
    """The middle of a box's bottom edge: where a standing person's feet touch the ground."""
    x1, _, x2, y2 = box
    return (x1 + x2) / 2.0, y2


def bottom_centre_fraction(box: Box, frame_size: tuple[int, int]) -> tuple[float, float]:
    """``bottom_centre`` of a pixel box as fractions of frame ``(width, height)``."""
    width, height = frame_size
    if width <= 0 or height <= 0:
        raise ValueError(f"frame size must be positive, got {frame_size!r}")
    x, y = bottom_centre(box)
    return x / width, y / height
