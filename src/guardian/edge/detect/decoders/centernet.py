"""CenterNet decoder: heatmap peaks (3x3 max-pool NMS) + per-cell left/top/right/bottom extents."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from guardian.edge.detect.types import Candidates, FloatArray

# The 3x3 neighbourhood, centre included (max-pool kernel 3, stride 1, SAME padding).
_OFFSETS = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]


class CenterNetDecoder:
    """Decodes CenterNet's heatmap + extents into xyxy boxes in model-input pixels.

    ``outputs`` (batch dimension optional, NHWC) are, in this order:

    0. ``heatmap`` (H/stride, W/stride, num_classes): per-class centre probabilities, already
       sigmoided (OpenVINO output ``tower_0/keypoints:0`` of the human-models centernet).
    1. ``wh`` (H/stride, W/stride, 4): distances in input pixels from the cell's anchor point
       ``(col * stride, row * stride)`` to the box's left, top, right and bottom edges
       (``tower_0/wh:0``; the graph already multiplies them by 16).

    A peak is a cell whose score equals the maximum of its 3x3 neighbourhood in the same
    class — the in-graph max-pool NMS of the original model, done here instead of in
    OpenVINO together with the top-k that the graph's TopKV2 would do.
    """

    def __init__(
        self,
        input_width: int,
        input_height: int,
        num_classes: int = 80,
        stride: int = 4,
        max_detections: int = 100,
    ) -> None:
        self.input_width = input_width
        self.input_height = input_height
        self.num_classes = num_classes
        self.stride = stride
        self.max_detections = max_detections
        self.rows = input_height // stride
        self.cols = input_width // stride
        self._limits = np.array([input_width, input_height, input_width, input_height], np.float32)
        self._dy = np.array([dy for dy, _ in _OFFSETS], np.int64)[None, :]
        self._dx = np.array([dx for _, dx in _OFFSETS], np.int64)[None, :]

    def _check(self, arr: FloatArray, channels: int, name: str) -> FloatArray:
        a = np.asarray(arr, dtype=np.float32)
        if a.size != self.rows * self.cols * channels or a.shape[-1] != channels:
            raise ValueError(
                f"CenterNet {name} has shape {a.shape}, "
                f"expected ({self.rows}, {self.cols}, {channels})"
            )
        return a.reshape(self.rows, self.cols, channels)

    def decode(self, outputs: Sequence[FloatArray], min_score: float) -> Candidates:
        """Up to ``max_detections`` heatmap peaks scoring at least ``min_score``, best first."""
        if len(outputs) != 2:
            raise ValueError("CenterNet needs 2 outputs: heatmap, wh")
        heat = self._check(outputs[0], self.num_classes, "heatmap")
        wh = self._check(outputs[1], 4, "wh")
        flat = heat.ravel()
        # Thresholding first keeps the neighbourhood test to a handful of cells.
        idx = np.flatnonzero(flat >= min_score)
        if idx.size == 0:
            return Candidates.empty()
        cls, cell = idx % self.num_classes, idx // self.num_classes
        row, col = cell // self.cols, cell % self.cols
        # Clamping neighbours into the map equals max-pooling with SAME (-inf) padding: a
        # clamped neighbour is the cell itself or another in-range neighbour.
        n_row = np.clip(row[:, None] + self._dy, 0, self.rows - 1)
        n_col = np.clip(col[:, None] + self._dx, 0, self.cols - 1)
        neighbourhood = flat[(n_row * self.cols + n_col) * self.num_classes + cls[:, None]]
        idx = idx[flat[idx] >= neighbourhood.max(axis=1)]
        scores = flat[idx]
        if scores.size > self.max_detections:
            top = np.argpartition(-scores, self.max_detections - 1)[: self.max_detections]
            idx, scores = idx[top], scores[top]
        order = np.argsort(-scores, kind="stable")
        idx, scores = idx[order], scores[order]
        cls, cell = idx % self.num_classes, idx // self.num_classes
        row, col = cell // self.cols, cell % self.cols
        extents = wh.reshape(-1, 4)[cell]
        anchor = np.stack([col, row], axis=1).astype(np.float32) * np.float32(self.stride)
        boxes = np.concatenate([anchor - extents[:, :2], anchor + extents[:, 2:]], axis=1)
        np.clip(boxes, 0.0, self._limits, out=boxes)
        return Candidates(
            boxes=boxes.astype(np.float32),
            scores=scores.astype(np.float32),
            class_ids=cls.astype(np.int64),
        )
