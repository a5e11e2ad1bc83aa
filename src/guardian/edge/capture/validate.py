"""Judge an uploaded image by its content: a structurally whole JPEG or PNG within a pixel limit."""

from __future__ import annotations

import io
import logging
import struct
from typing import NamedTuple

from PIL import Image

from guardian.edge.capture.structure import ImageRejected, check_jpeg, check_png

logger = logging.getLogger(__name__)

JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# Start-of-frame markers carry the image size (C4 DHT, C8 JPG and CC DAC do not).
_JPEG_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE})
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD9)})  # TEM, RSTn, SOI, EOI
_JPEG_SOS = 0xDA

# Pillow names a multi-picture JPEG (some cameras) "MPO"; it is still a JPEG.
_PILLOW_FORMATS = {"image/jpeg": frozenset({"JPEG", "MPO"}), "image/png": frozenset({"PNG"})}

__all__ = ["ImageInfo", "ImageRejected", "jpeg_header_size", "png_header_size", "sniff"]


class ImageInfo(NamedTuple):
    """What validation learned about an accepted image: ``(content_type, extension, w, h)``."""

    content_type: str
    extension: str
    width: int
    height: int


def sniff(data: bytes) -> tuple[str, str] | None:
    """``(content_type, extension)`` from the magic bytes, or ``None`` if neither JPEG nor PNG."""
    if data.startswith(JPEG_MAGIC):
        return "image/jpeg", "jpg"
    if data.startswith(PNG_MAGIC):
        return "image/png", "png"
    return None


def png_header_size(data: bytes) -> tuple[int, int]:
    """Width and height from the PNG IHDR chunk (which must come first)."""
    if len(data) < 24 or data[12:16] != b"IHDR":
        raise ImageRejected("PNG has no IHDR header")
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def jpeg_header_size(data: bytes) -> tuple[int, int]:
    """Width and height from the first JPEG start-of-frame segment, without decoding."""
    i = 2  # after SOI
    n = len(data)
    while i < n:
        if data[i] != 0xFF:
            raise ImageRejected("JPEG marker structure is corrupt")
        while i < n and data[i] == 0xFF:  # fill bytes
            i += 1
        if i >= n:
            break
        marker = data[i]
        i += 1
        if marker in _JPEG_STANDALONE:
            continue
        if marker == _JPEG_SOS:
            raise ImageRejected("JPEG has image data before any frame header")
        if i + 2 > n:
            break
        (length,) = struct.unpack(">H", data[i : i + 2])
        if length < 2:
            raise ImageRejected("JPEG marker structure is corrupt")
        if marker in _JPEG_SOF:
            if i + 7 > n:
                break
            height, width = struct.unpack(">HH", data[i + 3 : i + 7])
            return width, height
        i += length
    raise ImageRejected("JPEG is truncated before its frame header")


def validate_image(data: bytes, max_pixels: int) -> ImageInfo:
    """Accept ``data`` only if it is a whole JPEG or PNG within ``max_pixels``.

    The size is read from the header by this module before anything else looks at the
    data, so a decompression bomb is refused by our own limit. Then the file's structure
    is checked end to end without decoding pixels (``structure``: JPEG segments and scans
    through EOI; PNG chunk CRCs and an exact-size inflate of the image data), and Pillow
    must open it lazily as the same format and size — what the worker will later decode.
    Raises ``ImageRejected`` with a client-facing reason.
    """
    kind = sniff(data)
    if kind is None:
        raise ImageRejected("not a JPEG or PNG image (judged by content)")
    content_type, extension = kind
    if content_type == "image/png":
        width, height = png_header_size(data)
    else:
        width, height = jpeg_header_size(data)
    if width <= 0 or height <= 0:
        raise ImageRejected(f"image header has an invalid size {width}x{height}")
    if width * height > max_pixels:
        raise ImageRejected(
            f"image is {width}x{height} = {width * height} pixels, over the limit of {max_pixels}"
        )
    if content_type == "image/png":
        check_png(data)
    else:
        check_jpeg(data)
    _check_opens(data, content_type, (width, height))
    return ImageInfo(content_type, extension, width, height)


def _check_opens(data: bytes, content_type: str, header_size: tuple[int, int]) -> None:
    """Pillow reads the headers (not the pixels) as the same format and size."""
    try:
        with Image.open(io.BytesIO(data), formats=["JPEG", "PNG"]) as img:
            if img.format not in _PILLOW_FORMATS[content_type] or img.size != header_size:
                raise ImageRejected("image header is inconsistent")
    except ImageRejected:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageRejected(f"image is too large to decode: {exc}") from exc
    except (OSError, SyntaxError, ValueError, struct.error, EOFError) as exc:
        # Pillow reports broken headers with several exception types; all mean "corrupt".
        logger.debug("image header unreadable", extra={"reason": str(exc)})
        raise ImageRejected(f"image data is truncated or corrupt: {exc}") from exc
