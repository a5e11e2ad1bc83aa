"""Reading images from disk and drawing detections on them."""

from __future__ import annotations

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


def read_image(path: Path) -> npt.NDArray[np.uint8]:
    """Decode an image file to RGB ``HxWx3`` uint8, honouring EXIF orientation."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img.load()
            rgb = ImageOps.exif_transpose(img).convert("RGB")
    except FileNotFoundError as exc:
        raise ImageReadError(f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise ImageReadError(f"{path}: is a directory, not an image") from exc
    except UnidentifiedImageError as exc:
        raise ImageReadError(f"{path}: not an image (unrecognised format)") from exc
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageReadError(f"{path}: unreadable image ({exc})") from exc
    return np.asarray(rgb, dtype=np.uint8)


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
