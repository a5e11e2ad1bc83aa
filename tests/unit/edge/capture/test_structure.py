"""Structural JPEG/PNG checks: whole files of every common kind pass, broken ones do not."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from guardian.edge.capture.structure import ImageRejected, check_jpeg, check_png
from tests.capture_helpers import jpeg_bytes, pixels, png_bytes


def _encode(image: Image.Image, fmt: str, **save: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **save)
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png(ihdr: bytes, raw: bytes, *, split: int = 0, between: bytes = b"") -> bytes:
    compressed = zlib.compress(raw)
    idat = [compressed[:split], compressed[split:]] if split else [compressed]
    body = _chunk(b"IDAT", idat[0]) + between + b"".join(_chunk(b"IDAT", d) for d in idat[1:])
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + body + _chunk(b"IEND", b"")


@pytest.mark.parametrize(
    "save",
    [{}, {"progressive": True}, {"restart_marker_blocks": 1}, {"subsampling": 0}],
    ids=["baseline", "progressive", "restart-markers", "444"],
)
@pytest.mark.parametrize("mode", ["RGB", "L", "CMYK"])
def test_whole_jpegs_pass(mode: str, save: dict[str, object]) -> None:
    check_jpeg(_encode(pixels(97, 61).convert(mode), "JPEG", **save))


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA", "P", "1", "I;16"])
def test_whole_pngs_of_every_pixel_format_pass(mode: str) -> None:
    image = pixels(33, 17).convert("I").convert(mode) if mode == "I;16" else pixels(33, 17)
    check_png(_encode(image.convert(mode) if mode != "I;16" else image, "PNG"))


def test_an_interlaced_png_passes_with_its_adam7_size() -> None:
    width, height = 5, 3
    # Adam7 passes of a 5x3 grey image: rows of (filter byte + pixels) per pass.
    passes = [(1, 1), (1, 1), (1, 0), (1, 1), (3, 1), (2, 2), (5, 1)]
    raw = b"".join(b"\0" + b"\x80" * w for w, h in passes for _ in range(h))
    data = _png(struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 1), raw)
    check_png(data)
    with Image.open(io.BytesIO(data)) as image:  # an independent decoder agrees it is whole
        image.load()
        assert image.size == (width, height) and image.getpixel((4, 2)) == 0x80
    with pytest.raises(ImageRejected, match="header implies"):
        check_png(_png(struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 1), raw[:-6]))


def test_png_idat_split_over_chunks_passes_but_not_when_interrupted() -> None:
    ihdr = struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0)
    raw = (b"\0" + bytes(12)) * 4
    check_png(_png(ihdr, raw, split=5))
    with pytest.raises(ImageRejected, match="not contiguous"):
        check_png(_png(ihdr, raw, split=5, between=_chunk(b"tEXt", b"a\0b")))


@pytest.mark.parametrize(
    ("raw", "words"),
    [((b"\0" + bytes(12)) * 3, "header implies"), ((b"\0" + bytes(12)) * 5, "larger")],
    ids=["short", "long"],
)
def test_png_data_of_the_wrong_size_is_refused(raw: bytes, words: str) -> None:
    with pytest.raises(ImageRejected, match=words):
        check_png(_png(struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0), raw))


def test_png_with_an_invalid_pixel_format_or_stream_is_refused() -> None:
    with pytest.raises(ImageRejected, match="pixel format"):
        check_png(_png(struct.pack(">IIBBBBB", 4, 4, 3, 2, 0, 0, 0), b""))
    bad = b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
    bad += _chunk(b"IDAT", b"not zlib at all") + _chunk(b"IEND", b"")
    with pytest.raises(ImageRejected, match="does not inflate"):
        check_png(bad)


def test_png_must_start_with_ihdr() -> None:
    data = png_bytes()
    moved = data[:8] + _chunk(b"tEXt", b"a\0b") + data[8:]
    with pytest.raises(ImageRejected, match="IHDR"):
        check_png(moved)


def test_a_jpeg_cut_anywhere_is_refused() -> None:
    data = jpeg_bytes(64, 48)
    for end in range(2, len(data) - 1, 37):
        with pytest.raises(ImageRejected, match="truncated or corrupt"):
            check_jpeg(data[:end])


def test_jpeg_structure_errors_are_refused() -> None:
    data = jpeg_bytes(64, 48)
    sos = data.index(b"\xff\xda")
    with pytest.raises(ImageRejected, match="scan before any frame"):
        sof = data.index(b"\xff\xc0")
        length = struct.unpack(">H", data[sof + 2 : sof + 4])[0]
        check_jpeg(data[:sof] + data[sof + 2 + length :])
    with pytest.raises(ImageRejected, match="no image data"):
        check_jpeg(data[:sos] + b"\xff\xd9")
    with pytest.raises(ImageRejected, match="marker expected"):
        check_jpeg(data[:sos] + b"\x00" + data[sos:])
    with pytest.raises(ImageRejected, match="runs past the end"):
        check_jpeg(b"\xff\xd8\xff\xe0\xff\xff" + bytes(64))


def test_data_after_the_end_of_image_is_allowed() -> None:
    # Multi-picture (MPO) files carry further pictures after the first EOI.
    check_jpeg(jpeg_bytes() + jpeg_bytes(seed=2))


def test_huge_noise_jpeg_checks_fast_enough_to_run_per_upload() -> None:
    rng = np.random.default_rng(0)
    data = _encode(Image.fromarray(rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8)), "JPEG")
    check_jpeg(data)  # megabytes of entropy-coded data with many stuffed FF00 bytes
