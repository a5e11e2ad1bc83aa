"""Frame to tensor: resize (stretch or letterbox), colour order, normalisation, layout.

Pure numpy/OpenCV; the inverse mapping brings model-input boxes back to frame pixels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, cast

import cv2
import numpy as np
import numpy.typing as npt

from guardian.edge.detect.types import FloatArray

ResizeMode = Literal["stretch", "letterbox", "letterbox_topleft"]
Layout = Literal["NHWC", "NCHW"]
ColorOrder = Literal["RGB", "BGR"]


@dataclass(frozen=True, slots=True)
class InputSpec:
    """How a model wants its input tensor.

    ``mean`` and ``std`` apply on the 0..255 scale: ``(pixel - mean) / std``.
    """

    width: int
    height: int
    layout: Layout = "NHWC"
    color: ColorOrder = "RGB"
    resize: ResizeMode = "stretch"
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)
    pad_value: int = 114


@dataclass(frozen=True, slots=True)
class Transform:
    """Affine map from frame pixels to model-input pixels: ``x' = x * scale + pad``."""

    scale_x: float
    scale_y: float
    pad_x: float
    pad_y: float
    frame_width: int
    frame_height: int

    def to_frame(self, boxes: FloatArray) -> FloatArray:
        """Map xyxy boxes from model-input pixels to frame pixels, clipped to the frame."""
        out = np.empty_like(boxes, dtype=np.float32)
        out[:, 0::2] = (boxes[:, 0::2] - self.pad_x) / self.scale_x
        out[:, 1::2] = (boxes[:, 1::2] - self.pad_y) / self.scale_y
        np.clip(out[:, 0::2], 0.0, float(self.frame_width), out=out[:, 0::2])
        np.clip(out[:, 1::2], 0.0, float(self.frame_height), out=out[:, 1::2])
        return out


def ensure_rgb(frame: npt.NDArray[np.generic]) -> npt.NDArray[np.uint8]:
    """Accept HxWx3 RGB, HxWx4 RGBA or HxW grey frames (uint8 or float 0..1)."""
    if frame.ndim not in (2, 3):
        raise ValueError(f"frame must be HxW or HxWxC, got shape {frame.shape}")
    arr: npt.NDArray[np.generic] = frame
    if arr.dtype != np.uint8:
        if np.issubdtype(arr.dtype, np.floating) and float(np.max(arr, initial=0.0)) <= 1.0:
            arr = np.multiply(arr, 255.0)
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    if arr.ndim == 2:
        return np.ascontiguousarray(np.repeat(arr[:, :, None], 3, axis=2), dtype=np.uint8)
    channels = arr.shape[2]
    if channels == 4:
        arr = arr[:, :, :3]
    elif channels == 1:
        arr = np.repeat(arr, 3, axis=2)
    elif channels != 3:
        raise ValueError(f"frame must have 1, 3 or 4 channels, got {channels}")
    return np.ascontiguousarray(arr, dtype=np.uint8)


def plan_transform(frame_w: int, frame_h: int, spec: InputSpec) -> Transform:
    """The frame→input mapping for ``spec.resize``."""
    if spec.resize == "stretch":
        return Transform(spec.width / frame_w, spec.height / frame_h, 0.0, 0.0, frame_w, frame_h)
    scale = min(spec.width / frame_w, spec.height / frame_h)
    new_w, new_h = round(frame_w * scale), round(frame_h * scale)
    if spec.resize == "letterbox_topleft":
        pad_x = pad_y = 0.0
    else:
        pad_x, pad_y = (spec.width - new_w) / 2, (spec.height - new_h) / 2
    return Transform(scale, scale, float(int(pad_x)), float(int(pad_y)), frame_w, frame_h)


def resize_to_input(
    rgb: npt.NDArray[np.uint8], spec: InputSpec
) -> tuple[npt.NDArray[np.uint8], Transform]:
    """Resize (and pad) an RGB uint8 frame to the model's input size."""
    h, w = rgb.shape[:2]
    t = plan_transform(w, h, spec)
    if spec.resize == "stretch":
        if (w, h) == (spec.width, spec.height):
            return rgb, t
        out = cv2.resize(rgb, (spec.width, spec.height), interpolation=cv2.INTER_LINEAR)
        return cast(npt.NDArray[np.uint8], out), t
    new_w, new_h = round(w * t.scale_x), round(h * t.scale_y)
    resized = (
        rgb
        if (new_w, new_h) == (w, h)
        else cv2.resize(rgb, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    )
    canvas = np.full((spec.height, spec.width, 3), spec.pad_value, dtype=np.uint8)
    x0, y0 = int(t.pad_x), int(t.pad_y)
    canvas[y0 : y0 + new_h, x0 : x0 + new_w] = resized
    return canvas, t


class Normalizer:
    """Turns resized uint8 RGB images into the model's float tensor.

    ``(x - mean) / std`` is computed as ``x * a + b`` by OpenCV straight into the output
    batch (one pass per plane, no temporaries): several times faster than numpy here.
    """

    def __init__(self, spec: InputSpec) -> None:
        self.spec = spec
        mean = np.asarray(spec.mean, np.float64)
        std = np.asarray(spec.std, np.float64)
        # Coefficients per *output* channel; output channel c reads source channel src[c].
        self._a = [float(v) for v in 1.0 / std]
        self._b = [float(v) for v in -mean / std]
        self._src = (2, 1, 0) if spec.color == "BGR" else (0, 1, 2)
        self._uniform = len(set(self._a)) == 1 and len(set(self._b)) == 1

    def __call__(self, images: list[npt.NDArray[np.uint8]]) -> FloatArray:
        """Stack same-sized RGB uint8 images into one float32 batch tensor."""
        h, w = self.spec.height, self.spec.width
        nchw = self.spec.layout == "NCHW"
        shape = (len(images), 3, h, w) if nchw else (len(images), h, w, 3)
        out = np.empty(shape, np.float32)
        for i, img in enumerate(images):
            if nchw:
                for c, src in enumerate(self._src):
                    self._affine(img[:, :, src], self._a[c], self._b[c], out[i, c])
            elif self._uniform:
                ordered = img
                if self.spec.color == "BGR":
                    ordered = cast(npt.NDArray[np.uint8], cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
                self._affine(
                    ordered.reshape(h, w * 3), self._a[0], self._b[0], out[i].reshape(h, w * 3)
                )
            else:
                planes = [np.empty((h, w), np.float32) for _ in range(3)]
                for c, src in enumerate(self._src):
                    self._affine(img[:, :, src], self._a[c], self._b[c], planes[c])
                cv2.merge(planes, dst=out[i])
        return out

    @staticmethod
    def _affine(
        src: npt.NDArray[np.uint8], a: float, b: float, dst: npt.NDArray[np.float32]
    ) -> None:
        cv2.addWeighted(src, a, src, 0.0, b, dst=dst, dtype=cv2.CV_32F)
