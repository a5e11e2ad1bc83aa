"""Range header maths: single ranges, suffixes, what is ignored and what is unsatisfiable."""

from __future__ import annotations

import pytest

from guardian.relay.media.ranges import ByteRange, content_range, parse_range, resolve


@pytest.mark.parametrize(
    ("header", "parsed"),
    [
        ("bytes=0-", ByteRange(0, None)),
        ("bytes=10-19", ByteRange(10, 19)),
        ("Bytes = 5 - 5", ByteRange(5, 5)),
        ("bytes=-500", ByteRange(None, None, 500)),
        (None, None),
        ("", None),
        ("bytes=5-1", None),  # last before first: invalid, the whole file is served
        ("bytes=0-1,5-6", None),  # several ranges are not supported: whole file
        ("items=0-1", None),
        ("bytes=-", None),
    ],
)
def test_parse_range(header: str | None, parsed: ByteRange | None) -> None:
    assert parse_range(header) == parsed


@pytest.mark.parametrize(
    ("wanted", "total", "span"),
    [
        (ByteRange(0, None), 100, (0, 99)),
        (ByteRange(10, 19), 100, (10, 19)),
        (ByteRange(90, 500), 100, (90, 99)),
        (ByteRange(100, None), 100, None),
        (ByteRange(None, None, 30), 100, (70, 99)),
        (ByteRange(None, None, 300), 100, (0, 99)),
        (ByteRange(None, None, 0), 100, None),
        (ByteRange(0, None), 0, None),
    ],
)
def test_resolve(wanted: ByteRange, total: int, span: tuple[int, int] | None) -> None:
    assert resolve(wanted, total) == span


def test_content_range() -> None:
    assert content_range(10, 19, 100) == "bytes 10-19/100"
