"""The boxes to draw over an event's snapshot, from the relay's cached full event (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _box(value: Any) -> list[float] | None:
    if isinstance(value, list | tuple) and len(value) == 4:
        try:
            return [float(v) for v in value]
        except (TypeError, ValueError):
            return None
    return None


def snapshot_boxes(payload: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``[{"box": [x1, y1, x2, y2], "label", "score", "capture_id"}]`` in image pixels.

    Camera events carry the best moment's box (``details.best_box``, the snapshot's
    frame); capture (device) events carry ``details.boxes`` per capture.
    """
    details = payload.get("details")
    if not isinstance(details, Mapping):
        return []
    found: list[dict[str, Any]] = []
    best = _box(details.get("best_box"))
    if best is not None:
        score = payload.get("best_score")
        found.append(
            {
                "box": best,
                "label": details.get("label") if isinstance(details.get("label"), str) else None,
                "score": float(score) if isinstance(score, int | float) else None,
                "capture_id": None,
            }
        )
    per_capture = details.get("boxes")
    if isinstance(per_capture, Mapping):
        for capture_id, items in per_capture.items():
            for item in items if isinstance(items, list) else []:
                box = _box(item.get("box")) if isinstance(item, Mapping) else None
                if box is None:
                    continue
                score = item.get("score")
                found.append(
                    {
                        "box": box,
                        "label": "person",
                        "score": float(score) if isinstance(score, int | float) else None,
                        "capture_id": str(capture_id),
                    }
                )
    return found
