"""Reading images from disk and drawing detections on them."""

from __future__ import annotations

import io
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt

from guardian.edge.detect.errors import ImageReadError
from guardian.edge.detect.types import Detection

# Colour per Guardian label (RGB), chosen to stay distinct for colour-blind viewers.
_COLOURS: dict[str, tuple[int, int, int]] = {
    "person": (230, 159, 0),
    "vehicle": (86, 180, 233),
    "bicycle": (0, 158, 115),
    "animal": (240, 228, 66),
    "other": (204, 121, 167),
}


_EXIF_ORIENTATION = 0x0112
_QUARTER_TURNS = (5, 6, 7, 8)  # orientations that swap width and height
_TRANSPOSED = (2, 3, 4, 5, 6, 7, 8)  # orientations that move pixels (1: as stored)


@dataclass(frozen=True, slots=True)
class DecodedImage:
    """Pixels of an image decoded at ``scale`` (decoded size / full size, ≤ 1)."""

    rgb: npt.NDArray[np.uint8]
    full_width: int
    full_height: int

    @property
    def scale_x(self) -> float:
        return float(self.rgb.shape[1]) / self.full_width

    @property
    def scale_y(self) -> float:
        return float(self.rgb.shape[0]) / self.full_height

    def to_full(self, det: Detection) -> Detection:
        """A detection on the decoded pixels, with its box in full-size pixels."""
        x1, y1, x2, y2 = det.box
        sx, sy = self.scale_x, self.scale_y
        return replace(det, box=(x1 / sx, y1 / sy, x2 / sx, y2 / sy))


def decode_image(source: Path | bytes, min_size: tuple[int, int] | None = None) -> DecodedImage:
    """Decode a file or bytes to RGB, honouring EXIF orientation.

    With ``min_size`` (width, height), a JPEG is decoded at the smallest DCT scale (1/2,
    1/4, 1/8) that still covers it: several times faster than a full decode, and still
    reads every compressed block, so corrupt data is still caught.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    name = str(source) if isinstance(source, Path) else "image"
    try:
        with Image.open(source if isinstance(source, Path) else io.BytesIO(source)) as img:
            full_w, full_h = img.size
            orientation = img.getexif().get(_EXIF_ORIENTATION, 1)
            if orientation in _QUARTER_TURNS:
                full_w, full_h = full_h, full_w
            if min_size is not None and img.format == "JPEG":
                img.draft("RGB", min_size)
            img.load()
            # Each of these copies the pixels even when it has nothing to do: skip them then.
            oriented = ImageOps.exif_transpose(img) if orientation in _TRANSPOSED else img
            rgb = oriented if oriented.mode == "RGB" else oriented.convert("RGB")
            pixels = np.asarray(rgb, dtype=np.uint8)
    except FileNotFoundError as exc:
        raise ImageReadError(f"{name}: no such file") from exc
    except IsADirectoryError as exc:
        raise ImageReadError(f"{name}: is a directory, not an image") from exc
    except UnidentifiedImageError as exc:
        raise ImageReadError(f"{name}: not an image (unrecognised format)") from exc
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ImageReadError(f"{name}: unreadable image ({exc})") from exc
    return DecodedImage(pixels, full_w, full_h)


def read_image(path: Path) -> npt.NDArray[np.uint8]:
    """Decode an image file to RGB ``HxWx3`` uint8 at full size, honouring EXIF orientation."""
    return decode_image(path).rgb


def annotate(rgb: npt.NDArray[np.uint8], detections: list[Detection]) -> npt.NDArray[np.uint8]:
    """A copy of ``rgb`` with each detection's box and label drawn on it."""
    import cv2

    out = np.ascontiguousarray(rgb.copy())
    thickness = max(2, round(min(out.shape[:2]) / 300))
    for det in detections:
        colour = _COLOURS.get(det.label, _COLOURS["other"])
        x1, y1, x2, y2 = (round(v) for v in det.box)
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, thickness)
        text = f"{det.label} {det.score:.2f}"
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)
        ty = max(y1, th + base + 2)
        cv2.rectangle(out, (x1, ty - th - base - 2), (x1 + tw + 4, ty), colour, -1)
        cv2.putText(out, text, (x1 + 2, ty - base), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1)
    return out


def save_image(rgb: npt.NDArray[np.uint8], path: Path) -> None:
    """Write an RGB image (format from the suffix), creating parent folders."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path)
