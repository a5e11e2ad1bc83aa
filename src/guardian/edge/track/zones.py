"""Camera zones: named polygons in frame fractions, tested at a box's bottom centre."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from guardian.edge.detect.types import Box
from guardian.edge.track.geometry import bottom_centre_fraction, point_in_polygon

FractionPoint = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Zone:
    """A named area of one camera's frame.

    ``polygon`` is in fractions of frame width and height (so it survives a resolution
    change of the stream); ``interaction`` zones count a person staying at least
    ``min_dwell`` seconds as an ``interaction_detected`` event.
    """

    name: str
    polygon: tuple[FractionPoint, ...]
    interaction: bool = False
    min_dwell: float = 0.0

    def __post_init__(self) -> None:
        if not self.name or not self.name.strip():
            raise ValueError("a zone needs a non-empty name")
        # Accept lists from JSON config but store tuples, so a Zone stays hashable/immutable.
        points = tuple(_fraction_point(self.name, p) for p in self.polygon)
        if len(points) < 3:
            raise ValueError(f"zone {self.name!r}: a polygon needs at least 3 points")
        object.__setattr__(self, "polygon", points)
        if not math.isfinite(self.min_dwell) or self.min_dwell < 0:
            raise ValueError(f"zone {self.name!r}: min_dwell must be >= 0, got {self.min_dwell}")

    def contains(self, x: float, y: float) -> bool:
        """True when the fractional point ``(x, y)`` is inside the zone or on its edge."""
        return point_in_polygon(x, y, self.polygon)


def _fraction_point(zone: str, point: Sequence[float]) -> FractionPoint:
    if len(point) != 2:
        raise ValueError(f"zone {zone!r}: a point must be [x, y], got {list(point)!r}")
    x, y = float(point[0]), float(point[1])
    if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
        raise ValueError(f"zone {zone!r}: points are frame fractions in [0, 1], got {[x, y]}")
    return x, y


def check_unique(zones: Sequence[Zone]) -> None:
    """Raise ``ValueError`` when two zones of one camera share a name."""
    seen: set[str] = set()
    for zone in zones:
        if zone.name in seen:
            raise ValueError(f"duplicate zone name {zone.name!r}")
        seen.add(zone.name)


def zones_of(box: Box, frame_w: int, frame_h: int, zones: Sequence[Zone]) -> list[str]:
    """Names of the zones (in the given order) holding the bottom centre of pixel ``box``."""
    x, y = bottom_centre_fraction(box, (frame_w, frame_h))
    return [zone.name for zone in zones if zone.contains(x, y)]
