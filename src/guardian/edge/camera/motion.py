"""Cheap per-camera gates before detection: a frame sampler and a motion detector."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
import numpy.typing as npt

Frame = npt.NDArray[np.generic]
Box = tuple[float, float, float, float]
Polygon = Sequence[tuple[float, float]]

# Timestamps within this much of a slot boundary count as on it: 30 fps timestamps such
# as 6/30 s land a hair below 0.2 s in floating point and must not slip a slot.
_SLOT_EPS = 1e-6


@dataclass(frozen=True, slots=True)
class MotionConfig:
    """Motion gate tuning.

    ``width`` is the working width of the downscaled grey frame; ``learning_rate`` is how
    fast the background absorbs change (0..1 per frame); ``pixel_threshold`` is the grey
    level difference (0..255) that marks a pixel as changed; ``min_area`` is the fraction
    of the unmasked frame that must change to call it motion; ``masks`` are polygons in
    fractions of frame width and height whose pixels never count as motion.
    """

    width: int = 160
    blur: int = 5
    learning_rate: float = 0.05
    pixel_threshold: int = 25
    min_area: float = 0.002
    masks: tuple[Polygon, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.width < 8:
            raise ValueError(f"motion width must be at least 8, got {self.width}")
        if self.blur < 1 or self.blur % 2 == 0:
            raise ValueError(f"motion blur must be a positive odd number, got {self.blur}")
        if not 0.0 < self.learning_rate <= 1.0:
            raise ValueError(f"learning_rate must be in (0, 1], got {self.learning_rate}")
        if not 0 <= self.pixel_threshold <= 255:
            raise ValueError(f"pixel_threshold must be in 0..255, got {self.pixel_threshold}")
        if not 0.0 <= self.min_area <= 1.0:
            raise ValueError(f"min_area must be in [0, 1], got {self.min_area}")


@dataclass(frozen=True, slots=True)
class MotionResult:
    """Whether a frame moved, how much of it changed, and where (xyxy, full-frame pixels)."""

    moving: bool
    changed_fraction: float
    boxes: list[Box]


class MotionGate:
    """Running-average background subtraction on a small blurred grey copy of each frame.

    The first frame, and the first after the frame size changes, reports motion over the
    whole frame: the gate knows nothing about a new scene, so the pipeline should look once
    rather than miss someone who is standing still from the start.
    """

    def __init__(self, config: MotionConfig | None = None) -> None:
        self.config = config or MotionConfig()
        self._background: npt.NDArray[np.float32] | None = None
        self._frame_size: tuple[int, int] | None = None
        self._allowed: npt.NDArray[np.uint8] | None = None
        self._allowed_pixels = 0

    def reset(self) -> None:
        """Forget the background; the next frame starts afresh."""
        self._background = None
        self._frame_size = None

    def update(self, frame: Frame) -> MotionResult:
        """Feed one RGB (``HxWx3``) or grey (``HxW``) frame; say whether it moved."""
        height, width = int(frame.shape[0]), int(frame.shape[1])
        grey = self._small_grey(frame, width, height)
        if self._background is None or self._frame_size != (width, height):
            self._start(grey, width, height)
            return MotionResult(True, 1.0, [(0.0, 0.0, float(width), float(height))])
        assert self._allowed is not None
        diff = cv2.absdiff(grey, self._background)
        _, over = cv2.threshold(diff, self.config.pixel_threshold, 255, cv2.THRESH_BINARY)
        changed = np.asarray(cv2.bitwise_and(over.astype(np.uint8), self._allowed), np.uint8)
        fraction = cv2.countNonZero(changed) / max(self._allowed_pixels, 1)
        cv2.accumulateWeighted(grey, self._background, self.config.learning_rate)
        moving = fraction >= self.config.min_area and fraction > 0.0
        boxes = self._boxes(changed, width, height) if moving else []
        return MotionResult(moving, fraction, boxes)

    # -- internals --------------------------------------------------------------------

    def _small_grey(self, frame: Frame, width: int, height: int) -> npt.NDArray[np.float32]:
        # Never upscale: a frame narrower than the working width is used as is.
        small_w = min(self.config.width, width)
        small_h = max(1, round(height * small_w / width))
        image = np.ascontiguousarray(frame, dtype=np.uint8)
        # Resize before the colour conversion: converting the small image is cheaper.
        small = cv2.resize(image, (small_w, small_h), interpolation=cv2.INTER_AREA)
        if small.ndim == 3 and small.shape[2] >= 3:
            small = cv2.cvtColor(small[:, :, :3], cv2.COLOR_RGB2GRAY)
        elif small.ndim == 3:
            small = small[:, :, 0]
        k = self.config.blur
        blurred = cv2.GaussianBlur(small, (k, k), 0)
        return blurred.astype(np.float32)

    def _start(self, grey: npt.NDArray[np.float32], width: int, height: int) -> None:
        self._background = grey.copy()
        self._frame_size = (width, height)
        allowed = np.full(grey.shape, 255, np.uint8)
        small_h, small_w = grey.shape
        for polygon in self.config.masks:
            points = np.array(
                [[round(x * small_w), round(y * small_h)] for x, y in polygon], np.int32
            )
            if len(points) >= 3:
                cv2.fillPoly(allowed, [points], 0)
        self._allowed = allowed
        self._allowed_pixels = cv2.countNonZero(allowed)

    def _boxes(self, changed: npt.NDArray[np.uint8], width: int, height: int) -> list[Box]:
        # Dilation joins the fragments of one moving object into one box.
        joined = cv2.dilate(changed, np.ones((3, 3), np.uint8), iterations=2)
        contours, _ = cv2.findContours(joined, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        sx = width / changed.shape[1]
        sy = height / changed.shape[0]
        boxes: list[Box] = []
        for contour in contours:
            x, y, w, h = cv2.boundingRect(contour)
            box = (x * sx, y * sy, min((x + w) * sx, width), min((y + h) * sy, height))
            boxes.append((float(box[0]), float(box[1]), float(box[2]), float(box[3])))
        boxes.sort()
        return boxes


def should_detect(motion: MotionResult, tracking: bool) -> bool:
    """Run the detector when the frame moved or objects are being tracked."""
    return motion.moving or tracking


class FrameSampler:
    """Keeps at most one frame per ``1/detect_fps`` slot of time.

    Slots are anchored to the first timestamp, so the kept rate stays at ``detect_fps`` over
    any length of stream (no drift from rounding each interval) whatever the input rate and
    jitter; when the input is slower than ``detect_fps`` every frame is kept.
    """

    def __init__(self, detect_fps: float) -> None:
        if not math.isfinite(detect_fps) or detect_fps <= 0:
            raise ValueError(f"detect_fps must be positive, got {detect_fps}")
        self.detect_fps = float(detect_fps)
        self._origin: float | None = None
        self._last_slot = -1
        self._last_t: float | None = None

    def reset(self) -> None:
        """Start over, as after a reconnect."""
        self._origin = None
        self._last_slot = -1
        self._last_t = None

    def keep(self, t: float) -> bool:
        """Whether the frame at ``t`` seconds should go on to motion and detection."""
        if self._origin is None or self._last_t is None or t < self._last_t:
            # A timestamp going backwards means the stream restarted: re-anchor on it.
            self._origin = t
            self._last_slot = -1
        self._last_t = t
        slot = math.floor((t - self._origin) * self.detect_fps + _SLOT_EPS)
        if slot <= self._last_slot:
            return False
        self._last_slot = slot
        return True
