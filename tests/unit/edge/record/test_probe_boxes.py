"""The MP4 top-level box parser behind probe's faststart check, on crafted bytes."""

from __future__ import annotations

import io
import struct

from guardian.edge.record.probe import Box, is_faststart, top_level_boxes


def box(kind: bytes, payload: bytes = b"") -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def large_box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4sQ", 1, kind, 16 + len(payload)) + payload


def parse(data: bytes) -> list[Box]:
    return top_level_boxes(io.BytesIO(data))


def test_lists_boxes_with_offsets_and_sizes() -> None:
    data = box(b"ftyp", b"isom\0\0\2\0") + box(b"moov", b"x" * 20) + box(b"mdat", b"y" * 5)
    assert parse(data) == [Box("ftyp", 0, 16), Box("moov", 16, 28), Box("mdat", 44, 13)]


def test_reads_64_bit_sizes() -> None:
    data = box(b"ftyp") + large_box(b"mdat", b"z" * 10) + box(b"moov")
    assert parse(data) == [Box("ftyp", 0, 8), Box("mdat", 8, 26), Box("moov", 34, 8)]


def test_size_zero_runs_to_the_end_of_the_file() -> None:
    data = box(b"ftyp") + box(b"moov") + struct.pack(">I4s", 0, b"mdat") + b"q" * 100
    assert parse(data)[-1] == Box("mdat", 16, 108)


def test_stops_at_truncated_or_impossible_headers() -> None:
    assert parse(box(b"ftyp") + b"\0\0") == [Box("ftyp", 0, 8)]
    assert parse(box(b"ftyp") + struct.pack(">I4s", 4, b"bad!")) == [Box("ftyp", 0, 8)]
    assert parse(b"") == []


def test_faststart_means_moov_before_mdat() -> None:
    assert is_faststart(parse(box(b"ftyp") + box(b"moov") + box(b"mdat")))
    assert not is_faststart(parse(box(b"ftyp") + box(b"mdat") + box(b"moov")))
    assert not is_faststart(parse(box(b"ftyp") + box(b"mdat")))
    assert not is_faststart(parse(box(b"ftyp") + box(b"moov")))
