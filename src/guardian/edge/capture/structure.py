"""Cheap structural integrity checks of JPEG and PNG files (no pixel decoding).

What a full decode would catch, at a small fraction of its cost:

- JPEG: every segment from SOI walked by its length; a frame header (SOF) before the
  first scan; each scan's entropy-coded data run through to the next real marker (byte
  stuffing and restart markers skipped by a compiled regex, so it runs at C speed); and
  the stream must reach its EOI marker. Truncated files (no EOI), garbage after the magic
  bytes, and broken segment structure are refused. Bit flips inside entropy-coded data
  are not detected (libjpeg only warns about those in a full decode too).
- PNG: IHDR first and well-formed, every chunk's CRC-32, IDAT chunks present and
  consecutive, IEND last; the concatenated IDAT stream must inflate to exactly the byte
  count the header implies (streamed in bounded pieces, so memory stays small).
"""

from __future__ import annotations

import re
import struct
import zlib

# Markers inside entropy-coded data that do not end it: FF00 (stuffing), RSTn, fill FFs.
_JPEG_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
_JPEG_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE})
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM, RSTn
_SOI, _EOI, _SOS = 0xD8, 0xD9, 0xDA

_PNG_SIGNATURE_LEN = 8
# Valid (colour type -> channels, allowed bit depths) per the PNG specification.
_PNG_COLOUR = {
    0: (1, (1, 2, 4, 8, 16)),
    2: (3, (8, 16)),
    3: (1, (1, 2, 4, 8)),
    4: (2, (8, 16)),
    6: (4, (8, 16)),
}
# Adam7 interlace passes: (x offset, y offset, x step, y step).
_ADAM7 = (
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
)
_INFLATE_STEP = 1 << 20


class ImageRejected(ValueError):
    """The bytes are not an acceptable image; the message says why (for the client)."""


def _corrupt(reason: str) -> ImageRejected:
    return ImageRejected(f"image data is truncated or corrupt: {reason}")


def check_jpeg(data: bytes) -> None:
    """Raise ``ImageRejected`` unless ``data`` is a structurally complete JPEG stream."""
    if data[:2] != b"\xff\xd8":
        raise _corrupt("no JPEG start-of-image marker")
    i, n = 2, len(data)
    frame = scans = 0
    while True:
        if i >= n:
            raise _corrupt("JPEG ends before its end-of-image marker")
        if data[i] != 0xFF:
            raise _corrupt(f"JPEG marker expected at byte {i}")
        while i < n and data[i] == 0xFF:  # fill bytes before a marker
            i += 1
        if i >= n:
            raise _corrupt("JPEG ends before its end-of-image marker")
        marker = data[i]
        i += 1
        if marker == _EOI:
            break
        if marker in _JPEG_STANDALONE:
            continue
        if marker in (0x00, _SOI):
            raise _corrupt(f"unexpected JPEG marker 0x{marker:02X} at byte {i - 1}")
        if i + 2 > n:
            raise _corrupt("JPEG ends inside a segment header")
        (length,) = struct.unpack_from(">H", data, i)
        if length < 2 or i + length > n:
            raise _corrupt(f"JPEG segment 0x{marker:02X} runs past the end of the data")
        if marker in _JPEG_SOF:
            if length < 8 or length != 8 + 3 * data[i + 7]:
                raise _corrupt("JPEG frame header has an inconsistent length")
            frame += 1
        elif marker == _SOS:
            ns = data[i + 2] if length > 2 else 0
            if not frame:
                raise _corrupt("JPEG scan before any frame header")
            if not 1 <= ns <= 4 or length != 6 + 2 * ns:
                raise _corrupt("JPEG scan header is malformed")
            scans += 1
            found = _JPEG_NEXT_MARKER.search(data, i + length)
            if found is None:
                raise _corrupt("JPEG scan data runs to the end without an end-of-image marker")
            i = found.start()
            continue
        i += length
    if not scans:
        raise _corrupt("JPEG has no image data (no scan)")


def _png_chunks(data: bytes) -> list[tuple[bytes, int, int]]:
    """``(type, start, end)`` of each chunk's data, CRCs checked, through IEND."""
    chunks: list[tuple[bytes, int, int]] = []
    i, n = _PNG_SIGNATURE_LEN, len(data)
    while True:
        if i + 12 > n:
            raise _corrupt("PNG ends before its IEND chunk")
        length, kind = struct.unpack_from(">I4s", data, i)
        start, end = i + 8, i + 8 + length
        if end + 4 > n:
            raise _corrupt(f"PNG chunk {kind!r} runs past the end of the data")
        (crc,) = struct.unpack_from(">I", data, end)
        if zlib.crc32(data[i + 4 : end]) != crc:
            raise _corrupt(f"PNG chunk {kind!r} fails its CRC check")
        chunks.append((kind, start, end))
        i = end + 4
        if kind == b"IEND":
            return chunks


def _png_raw_size(width: int, height: int, bits_per_pixel: int, interlaced: bool) -> int:
    """Bytes the IDAT stream inflates to: each row is a filter byte + packed pixels."""

    def rows(w: int, h: int) -> int:
        return 0 if w == 0 or h == 0 else h * (1 + (w * bits_per_pixel + 7) // 8)

    if not interlaced:
        return rows(width, height)
    total = 0
    for x0, y0, dx, dy in _ADAM7:
        total += rows((width - x0 + dx - 1) // dx, (height - y0 + dy - 1) // dy)
    return total


def check_png(data: bytes) -> None:
    """Raise ``ImageRejected`` unless ``data`` is a structurally complete PNG."""
    chunks = _png_chunks(data)
    kind, start, end = chunks[0]
    if kind != b"IHDR" or end - start != 13:
        raise _corrupt("PNG does not start with a valid IHDR chunk")
    width, height, depth, colour, compression, filtering, interlace = struct.unpack_from(
        ">IIBBBBB", data, start
    )
    channels, depths = _PNG_COLOUR.get(colour, (0, ()))
    if depth not in depths or compression != 0 or filtering != 0 or interlace > 1:
        raise _corrupt("PNG header has an invalid pixel format")
    idat = [i for i, (k, _, _) in enumerate(chunks) if k == b"IDAT"]
    if not idat or idat[-1] - idat[0] + 1 != len(idat):
        raise _corrupt("PNG image data (IDAT) is missing or not contiguous")
    expected = _png_raw_size(width, height, channels * depth, interlace == 1)
    inflater = zlib.decompressobj()
    produced = 0
    try:
        for index in idat:
            _, start, end = chunks[index]
            piece = inflater.decompress(data[start:end], _INFLATE_STEP)
            while True:
                produced += len(piece)
                if produced > expected:
                    raise _corrupt("PNG image data is larger than its header says")
                if not inflater.unconsumed_tail:
                    break
                piece = inflater.decompress(inflater.unconsumed_tail, _INFLATE_STEP)
        produced += len(inflater.flush())
    except zlib.error as exc:
        raise _corrupt(f"PNG image data does not inflate ({exc})") from exc
    if not inflater.eof or produced != expected:
        raise _corrupt(
            f"PNG image data inflates to {produced} bytes, its header implies {expected}"
        )
