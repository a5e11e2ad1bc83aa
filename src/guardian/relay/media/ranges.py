"""HTTP ``Range`` maths (RFC 9110 §14), pure: one byte range or the whole representation."""

from __future__ import annotations

import re
from dataclasses import dataclass

_SINGLE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ByteRange:
    """``first``-``last`` (inclusive, ``last`` None: to the end) or the ``suffix`` last bytes."""

    first: int | None
    last: int | None
    suffix: int | None = None


def parse_range(header: str | None) -> ByteRange | None:
    """The single byte range asked for; None for none, a malformed one or several ranges.

    A server may ignore a Range it does not support and answer the whole (200), which is
    what None means.
    """
    if not header:
        return None
    match = _SINGLE.match(header)
    if match is None:
        return None
    first, last = match.group(1), match.group(2)
    if not first and not last:
        return None
    if not first:
        return ByteRange(None, None, suffix=int(last))
    if last and int(last) < int(first):
        return None
    return ByteRange(int(first), int(last) if last else None)


def resolve(wanted: ByteRange, total: int) -> tuple[int, int] | None:
    """The inclusive ``(start, end)`` of ``wanted`` in a file of ``total`` bytes, or None
    when it is unsatisfiable (416)."""
    if wanted.suffix is not None:
        if wanted.suffix == 0 or total == 0:
            return None
        return max(0, total - wanted.suffix), total - 1
    assert wanted.first is not None
    if wanted.first >= total:
        return None
    end = total - 1 if wanted.last is None else min(wanted.last, total - 1)
    return wanted.first, end


def content_range(start: int, end: int, total: int) -> str:
    """The ``Content-Range`` of a 206."""
    return f"bytes {start}-{end}/{total}"
