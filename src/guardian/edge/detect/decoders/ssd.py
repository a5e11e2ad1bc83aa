"""SSD decoding with MediaPipe-style anchors (SSD-MobileNetV2 trained on Open Images v4).

The anchor layout and box coding follow MediaPipe's ``SsdAnchorsCalculator`` and
``TfLiteTensorsToDetectionsCalculator`` options from the Objectron OIDv4 subgraph.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from guardian.edge.detect.decoders.base import sigmoid
from guardian.edge.detect.types import Candidates, FloatArray


@dataclass(frozen=True, slots=True)
class SsdAnchorOptions:
    """Options of MediaPipe's SSD anchor generator (same names and defaults)."""

    input_width: int = 300
    input_height: int = 300
    num_layers: int = 6
    min_scale: float = 0.2
    max_scale: float = 0.95
    strides: tuple[int, ...] = (16, 32, 64, 128, 256, 512)
    aspect_ratios: tuple[float, ...] = (1.0, 2.0, 0.5, 3.0, 0.3333)
    anchor_offset_x: float = 0.5
    anchor_offset_y: float = 0.5
    reduce_boxes_in_lowest_layer: bool = True
    interpolated_scale_aspect_ratio: float = 1.0


def _scale(min_scale: float, max_scale: float, index: int, count: int) -> float:
    if count == 1:
        return (min_scale + max_scale) * 0.5
    return min_scale + (max_scale - min_scale) * index / (count - 1)


def generate_anchors(opts: SsdAnchorOptions) -> FloatArray:
    """Anchors as an (N, 4) array of normalised ``(x_center, y_center, w, h)``."""
    rows: list[tuple[float, float, float, float]] = []
    layer = 0
    while layer < opts.num_layers:
        ratios: list[float] = []
        scales: list[float] = []
        last = layer
        while last < opts.num_layers and opts.strides[last] == opts.strides[layer]:
            scale = _scale(opts.min_scale, opts.max_scale, last, opts.num_layers)
            if last == 0 and opts.reduce_boxes_in_lowest_layer:
                ratios += [1.0, 2.0, 0.5]
                scales += [0.1, scale, scale]
            else:
                ratios += list(opts.aspect_ratios)
                scales += [scale] * len(opts.aspect_ratios)
                if opts.interpolated_scale_aspect_ratio > 0:
                    nxt = (
                        1.0
                        if last == opts.num_layers - 1
                        else _scale(opts.min_scale, opts.max_scale, last + 1, opts.num_layers)
                    )
                    scales.append(math.sqrt(scale * nxt))
                    ratios.append(opts.interpolated_scale_aspect_ratio)
            last += 1
        sizes = [(s * math.sqrt(r), s / math.sqrt(r)) for s, r in zip(scales, ratios, strict=True)]
        stride = opts.strides[layer]
        fh = math.ceil(opts.input_height / stride)
        fw = math.ceil(opts.input_width / stride)
        for y in range(fh):
            for x in range(fw):
                xc = (x + opts.anchor_offset_x) / fw
                yc = (y + opts.anchor_offset_y) / fh
                rows.extend((xc, yc, w, h) for w, h in sizes)
        layer = last
    return np.asarray(rows, dtype=np.float32)


class SsdDecoder:
    """Decodes ``box_encodings`` (N,4: ty, tx, th, tw) and ``class_predictions`` (N,C).

    Outputs order: ``[box_encodings, class_predictions]``. Class 0 is background
    and is ignored. Scores are logits (sigmoid applied here).
    """

    def __init__(
        self,
        anchors: SsdAnchorOptions | None = None,
        *,
        scales: tuple[float, float, float, float] = (10.0, 10.0, 5.0, 5.0),
        ignore_classes: Sequence[int] = (0,),
    ) -> None:
        self.opts = anchors or SsdAnchorOptions()
        self.anchors = generate_anchors(self.opts)
        self.y_scale, self.x_scale, self.h_scale, self.w_scale = scales
        self.ignore = tuple(ignore_classes)

    def decode(self, outputs: Sequence[FloatArray], min_score: float) -> Candidates:
        """See :class:`~guardian.edge.detect.decoders.base.Decoder`."""
        raw_boxes, logits = outputs[0].reshape(-1, 4), outputs[1]
        logits = logits.reshape(raw_boxes.shape[0], -1).copy()
        if raw_boxes.shape[0] != self.anchors.shape[0]:
            raise ValueError(
                f"model gives {raw_boxes.shape[0]} boxes but the anchors number "
                f"{self.anchors.shape[0]}"
            )
        logits[:, list(self.ignore)] = -np.inf
        class_ids = np.argmax(logits, axis=1)
        best = logits[np.arange(logits.shape[0]), class_ids]
        # Threshold on logits first: sigmoid is monotonic and only survivors need it.
        min_logit = math.log(min_score / (1.0 - min_score)) if 0.0 < min_score < 1.0 else -np.inf
        keep = np.nonzero(best >= min_logit)[0]
        if keep.size == 0:
            return Candidates.empty()
        a = self.anchors[keep]
        rb = raw_boxes[keep].astype(np.float32)
        yc = rb[:, 0] / self.y_scale * a[:, 3] + a[:, 1]
        xc = rb[:, 1] / self.x_scale * a[:, 2] + a[:, 0]
        h = np.exp(rb[:, 2] / self.h_scale) * a[:, 3]
        w = np.exp(rb[:, 3] / self.w_scale) * a[:, 2]
        iw, ih = float(self.opts.input_width), float(self.opts.input_height)
        boxes = np.stack(
            [(xc - w / 2) * iw, (yc - h / 2) * ih, (xc + w / 2) * iw, (yc + h / 2) * ih], axis=1
        ).astype(np.float32)
        scores = sigmoid(best[keep].astype(np.float32))
        return Candidates(boxes, scores, class_ids[keep].astype(np.int64))
