"""Cameras: OpenCV or picamera2 frames, JPEG encoding, interval and motion-triggered capture."""

from __future__ import annotations

import importlib
import io
import logging
import re
import threading
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from guardian.device.sources import Intake

    Frame = npt.NDArray[np.uint8]

logger = logging.getLogger(__name__)

CAMERA_RETRY_S = 5.0


def camera_label(index: str) -> str:
    """``index`` fit for logs: a stream URL loses its ``user:password@`` part."""
    return re.sub(r"//[^/@]*@", "//", index)


def utc_now_iso() -> str:
    """The current time as RFC 3339 UTC."""
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class Camera(Protocol):
    """A frame grabber: BGR frames in, JPEG bytes out."""

    def read(self) -> Frame: ...
    def encode(self, frame: Frame) -> bytes: ...
    def close(self) -> None: ...


class CameraError(RuntimeError):
    """The camera could not be opened or gave no frame."""


class CameraSource:
    """An OpenCV ``VideoCapture``: a device index ("0"), a video file/URL, imported lazily."""

    def __init__(self, index: str, *, jpeg_quality: int = 90) -> None:
        self.cv2: Any = importlib.import_module("cv2")  # only a device with a camera needs it
        self.index = index
        self.quality = jpeg_quality
        target: int | str = int(index) if index.isdigit() else index
        self._cap: Any = self.cv2.VideoCapture(target)
        if not self._cap.isOpened():
            self._cap.release()
            raise CameraError(f"cannot open camera {camera_label(index)!r}")
        # Interval captures must not get a frame that sat in the driver's queue for seconds.
        self._cap.set(self.cv2.CAP_PROP_BUFFERSIZE, 1)

    def read(self) -> Frame:
        ok, frame = self._cap.read()
        if not ok or frame is None:
            raise CameraError(f"camera {camera_label(self.index)!r} gave no frame")
        return frame  # type: ignore[no-any-return]

    def encode(self, frame: Frame) -> bytes:
        ok, buf = self.cv2.imencode(".jpg", frame, [self.cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if not ok:
            raise CameraError("JPEG encoding failed")
        return bytes(buf)

    def close(self) -> None:
        self._cap.release()


class PiCameraSource:
    """The Raspberry Pi camera through picamera2 (BGR arrays, JPEG via Pillow)."""

    def __init__(self, *, jpeg_quality: int = 90) -> None:
        try:
            picamera2: Any = importlib.import_module("picamera2")
        except ImportError as exc:
            hint = "--camera pi needs picamera2 (apt install python3-picamera2)"
            raise CameraError(hint) from exc
        self.quality = jpeg_quality
        self._cam: Any = picamera2.Picamera2()
        # "RGB888" is BGR byte order in picamera2, the same as OpenCV frames.
        config = self._cam.create_still_configuration(main={"format": "RGB888"})
        self._cam.configure(config)
        self._cam.start()

    def read(self) -> Frame:
        return self._cam.capture_array()  # type: ignore[no-any-return]

    def encode(self, frame: Frame) -> bytes:
        from PIL import Image

        out = io.BytesIO()
        Image.fromarray(frame[:, :, ::-1]).save(out, format="JPEG", quality=self.quality)
        return out.getvalue()

    def close(self) -> None:
        self._cam.close()


def open_camera(index: str, *, jpeg_quality: int = 90) -> Camera:
    """``"pi"`` → picamera2; a number, a file or a URL → OpenCV."""
    if index == "pi":
        return PiCameraSource(jpeg_quality=jpeg_quality)
    return CameraSource(index, jpeg_quality=jpeg_quality)


def changed_fraction(prev: Frame, cur: Frame, *, step: int = 8, pixel_delta: int = 25) -> float:
    """Share of (subsampled, grey) pixels that changed by more than ``pixel_delta`` levels."""
    a = prev[::step, ::step].astype("int16")
    b = cur[::step, ::step].astype("int16")
    if a.shape != b.shape:
        return 1.0
    if a.ndim == 3:
        a, b = a.mean(axis=2), b.mean(axis=2)
    return float((abs(a - b) > pixel_delta).mean())


class CameraLoop:
    """Captures from a camera every ``interval`` seconds, or on motion when interval is None.

    Motion mode samples a frame every ``poll`` seconds and captures when more than
    ``motion_threshold`` of the picture changed since the previous sample, at most once
    per ``min_gap`` seconds. A failing camera is reopened after a pause.
    """

    def __init__(
        self,
        index: str,
        *,
        interval: float | None,
        poll: float = 0.5,
        motion_threshold: float = 0.02,
        min_gap: float = 2.0,
        jpeg_quality: int = 90,
    ) -> None:
        self.index = index
        self.interval = interval
        self.poll = poll
        self.motion_threshold = motion_threshold
        self.min_gap = min_gap
        self.jpeg_quality = jpeg_quality
        # The file name the edge sees: never a path or URL (it could carry a password).
        simple = index.isdigit() or index == "pi"
        self.capture_name = f"camera-{index}.jpg" if simple else "camera.jpg"

    def run(self, intake: Intake, stop: threading.Event) -> None:
        """Capture until ``stop`` is set."""
        while not stop.is_set():
            try:
                camera = open_camera(self.index, jpeg_quality=self.jpeg_quality)
            except CameraError as exc:
                logger.error("camera unavailable; retrying", extra={"error": str(exc)})
                stop.wait(CAMERA_RETRY_S)
                continue
            try:
                self._loop(camera, intake, stop)
            except CameraError as exc:
                logger.warning("camera failed; reopening", extra={"error": str(exc)})
            finally:
                camera.close()

    def _loop(self, camera: Camera, intake: Intake, stop: threading.Event) -> None:
        period = self.interval if self.interval is not None else self.poll
        prev: Frame | None = None
        last_capture = float("-inf")
        next_at = time.monotonic()
        while not stop.is_set():
            frame = camera.read()
            stamp = utc_now_iso()
            if self.interval is None:
                moved = prev is not None and (changed_fraction(prev, frame) > self.motion_threshold)
                prev = frame
                take = moved and time.monotonic() - last_capture >= self.min_gap
            else:
                take = True
            if take:
                last_capture = time.monotonic()
                try:
                    intake.capture(camera.encode(frame), stamp, self.capture_name)
                except OSError:  # e.g. the SD card is full: keep trying, log each failure
                    logger.exception("could not spool a capture")
            next_at = max(next_at + period, time.monotonic())
            stop.wait(next_at - time.monotonic())
