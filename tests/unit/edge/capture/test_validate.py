"""Image validation judges by content: decodable JPEG/PNG only, pixel limit before decoding."""

from __future__ import annotations

import io
import struct
import zlib

import pytest

from guardian.edge.capture.validate import (
    ImageRejected,
    jpeg_header_size,
    png_header_size,
    sniff,
    validate_image,
)
from tests.capture_helpers import jpeg_bytes, pixels, png_bytes

LIMIT = 40_000_000


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` (a decompression bomb shape)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 16)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def test_a_real_jpeg_is_accepted_with_its_size() -> None:
    info = validate_image(jpeg_bytes(64, 48), LIMIT)
    assert info == ("image/jpeg", "jpg", 64, 48)
    content_type, extension, width, height = info  # a plain tuple for callers
    assert (content_type, extension, width, height) == ("image/jpeg", "jpg", 64, 48)


def test_a_real_png_is_accepted_with_its_size() -> None:
    assert validate_image(png_bytes(33, 17), LIMIT) == ("image/png", "png", 33, 17)


def test_a_multi_picture_jpeg_counts_as_jpeg() -> None:
    out = io.BytesIO()
    pixels(seed=1).save(out, "MPO", save_all=True, append_images=[pixels(seed=2)])
    assert validate_image(out.getvalue(), LIMIT) == ("image/jpeg", "jpg", 64, 48)


def test_progressive_jpeg_header_size_is_read() -> None:
    data = jpeg_bytes(120, 80, progressive=True)
    assert jpeg_header_size(data) == (120, 80)
    assert validate_image(data, LIMIT).width == 120


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello, this is a text file named capture.jpg\n",
        b"GIF89a" + b"\0" * 64,
        b"RIFF\0\0\0\0WEBPVP8 ",
    ],
    ids=["empty", "text", "gif", "webp"],
)
def test_non_jpeg_png_content_is_rejected(data: bytes) -> None:
    assert sniff(data) is None
    with pytest.raises(ImageRejected, match="not a JPEG or PNG"):
        validate_image(data, LIMIT)


@pytest.mark.parametrize("cut", [2, 100, 0.5], ids=["eoi", "tail", "half"])
def test_truncated_jpeg_is_rejected(cut: float) -> None:
    data = jpeg_bytes(64, 48)
    end = int(len(data) * cut) if isinstance(cut, float) else len(data) - int(cut)
    with pytest.raises(ImageRejected, match="truncated or corrupt"):
        validate_image(data[:end], LIMIT)


def test_jpeg_cut_inside_its_headers_is_rejected() -> None:
    with pytest.raises(ImageRejected, match="truncated"):
        validate_image(jpeg_bytes()[:40], LIMIT)


def test_jpeg_magic_followed_by_garbage_is_rejected() -> None:
    with pytest.raises(ImageRejected):
        validate_image(b"\xff\xd8\xff" + bytes(range(256)) * 4, LIMIT)


def test_png_without_its_end_chunk_is_rejected() -> None:
    data = png_bytes()
    with pytest.raises(ImageRejected, match="truncated"):
        validate_image(data[:-12], LIMIT)


def test_half_a_png_is_rejected() -> None:
    data = png_bytes()
    with pytest.raises(ImageRejected, match="truncated or corrupt"):
        validate_image(data[: len(data) // 2], LIMIT)


def test_png_with_a_corrupt_chunk_is_rejected() -> None:
    data = bytearray(png_bytes())
    data[len(data) // 2] ^= 0xFF
    with pytest.raises(ImageRejected, match="truncated or corrupt"):
        validate_image(bytes(data), LIMIT)


def test_pixel_limit_applies_to_the_header_size() -> None:
    data = png_bytes(100, 100)
    assert validate_image(data, 10_000).width == 100
    with pytest.raises(ImageRejected, match="100x100 = 10000 pixels, over the limit of 9999"):
        validate_image(data, 9_999)


@pytest.mark.parametrize("side", [10_000, 100_000])
def test_a_decompression_bomb_is_refused_by_our_limit_before_pillow_sees_it(side: int) -> None:
    # 10 000^2 would make Pillow warn (an error under this suite's filterwarnings) and
    # 100 000^2 would make it raise its own bomb error: our message proves we refused first.
    data = png_claiming(side, side)
    assert png_header_size(data) == (side, side)
    with pytest.raises(ImageRejected, match="over the limit of 40000000"):
        validate_image(data, LIMIT)


def test_a_zero_sized_header_is_rejected() -> None:
    with pytest.raises(ImageRejected, match="invalid size 0x5"):
        validate_image(png_claiming(0, 5), LIMIT)
