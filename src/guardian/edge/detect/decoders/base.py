"""The decoder interface every model family implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from guardian.edge.detect.types import Candidates, FloatArray


class Decoder(Protocol):
    """Turns one image's raw model outputs into candidates.

    ``outputs`` are the model's output tensors for a single image (batch
    dimension removed), in the order the model spec lists them. Returned boxes
    are xyxy in pixels of the model input (e.g. 0..416). Candidates below
    ``min_score`` may be dropped early; NMS happens after decoding.
    """

    def decode(self, outputs: Sequence[FloatArray], min_score: float) -> Candidates: ...


def sigmoid(x: FloatArray) -> FloatArray:
    """Numerically stable logistic function."""
    out: FloatArray = np.empty_like(x, dtype=np.float32)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    ex = np.exp(x[~pos])
    out[~pos] = ex / (1.0 + ex)
    return out


def softmax(x: FloatArray, axis: int = -1) -> FloatArray:
    """Softmax along ``axis``."""
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    result: FloatArray = (e / np.sum(e, axis=axis, keepdims=True)).astype(np.float32)
    return result
