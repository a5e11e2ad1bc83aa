"""Non-maximum suppression (class-aware) and box maths, pure numpy."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from guardian.edge.detect.types import Candidates, FloatArray


def iou_matrix(a: FloatArray, b: FloatArray) -> FloatArray:
    """Pairwise IoU of xyxy boxes ``a`` (N,4) and ``b`` (M,4)."""
    if a.size == 0 or b.size == 0:
        return np.zeros((a.shape[0], b.shape[0]), np.float32)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0).astype(np.float32)


def nms(boxes: FloatArray, scores: FloatArray, iou_threshold: float) -> npt.NDArray[np.intp]:
    """Greedy NMS; returns kept indices in descending score order."""
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        if order.size == 1:
            break
        rest = order[1:]
        ious = iou_matrix(boxes[i : i + 1], boxes[rest])[0]
        order = rest[ious <= iou_threshold]
    return np.asarray(keep, dtype=np.intp)


def class_aware_nms(
    cands: Candidates, iou_threshold: float, max_detections: int = 100
) -> Candidates:
    """NMS within each class (boxes of different classes never suppress each other).

    Uses the coordinate-offset trick: shifting each class's boxes far apart lets one
    NMS pass handle all classes at once.
    """
    if len(cands) == 0:
        return cands
    span = float(np.max(cands.boxes)) + 1.0
    shifted = cands.boxes + (cands.class_ids.astype(np.float32) * span)[:, None]
    keep = nms(shifted, cands.scores, iou_threshold)[:max_detections]
    return cands.select(keep)
