"""A ``multipart/form-data`` body already in memory, split into its parts (RFC 7578).

The ingest holds the whole (size-capped) body anyway to check its signature, so the parts
are found with ``bytes.find`` over that buffer: no streaming parser, no per-chunk
callbacks, no spooled temporary files, and the image part is a slice of the body.
"""

from __future__ import annotations

from dataclasses import dataclass

from python_multipart.multipart import parse_options_header

MAX_PARTS = 32
MAX_PART_HEADER_BYTES = 8 * 1024


class MultipartError(ValueError):
    """The body is not valid ``multipart/form-data``; the message says where."""


@dataclass(frozen=True)
class Part:
    """One form part: ``filename`` is ``None`` for a text field (no filename parameter)."""

    name: str
    filename: str | None
    content_type: str | None
    data: bytes

    @property
    def is_file(self) -> bool:
        """Whether the part was sent as a file (with a ``filename`` parameter)."""
        return self.filename is not None

    def text(self) -> str:
        """A text field's value (UTF-8; undecodable bytes replaced, never an exception)."""
        return self.data.decode("utf-8", errors="replace")


def boundary_of(content_type: str) -> bytes:
    """The boundary parameter of a ``multipart/form-data`` content type."""
    kind, params = parse_options_header(content_type)
    if kind.lower() != b"multipart/form-data":
        raise MultipartError("content type is not multipart/form-data")
    boundary = params.get(b"boundary", b"")
    if not boundary or len(boundary) > 200:
        raise MultipartError("missing or invalid boundary parameter")
    return boundary


def _headers(block: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in block.split(b"\r\n"):
        name, sep, value = line.partition(b":")
        if not sep or not name.strip():
            raise MultipartError("malformed part header line")
        headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    return headers


def parse_form(content_type: str, body: bytes) -> dict[str, Part]:
    """The parts of ``body`` by field name (a repeated name keeps its last part)."""
    delimiter = b"--" + boundary_of(content_type)
    if body.startswith(delimiter):
        pos = len(delimiter)
    else:  # a preamble before the first delimiter is allowed and ignored
        found = body.find(b"\r\n" + delimiter)
        if found < 0:
            raise MultipartError("no part starts with the boundary")
        pos = found + 2 + len(delimiter)
    parts: dict[str, Part] = {}
    count = 0
    while True:
        if body.startswith(b"--", pos):
            return parts  # the closing delimiter (an epilogue after it is ignored)
        line_end = body.find(b"\r\n", pos)
        if line_end < 0 or body[pos:line_end].strip(b" \t"):
            raise MultipartError("boundary line is not followed by a line break")
        head_start = line_end + 2
        head_end = body.find(b"\r\n\r\n", head_start, head_start + MAX_PART_HEADER_BYTES)
        if head_end < 0:
            raise MultipartError("part headers are unterminated or too long")
        data_start = head_end + 4
        data_end = body.find(b"\r\n" + delimiter, data_start)
        if data_end < 0:
            raise MultipartError("part is not closed by the boundary (truncated body?)")
        count += 1
        if count > MAX_PARTS:
            raise MultipartError(f"more than {MAX_PARTS} parts")
        part = _part(_headers(body[head_start:head_end]), body[data_start:data_end])
        parts[part.name] = part
        pos = data_end + 2 + len(delimiter)


def _part(headers: dict[str, str], data: bytes) -> Part:
    disposition = headers.get("content-disposition")
    if disposition is None:
        raise MultipartError("a part has no Content-Disposition header")
    kind, params = parse_options_header(disposition)
    if kind.lower() != b"form-data" or b"name" not in params:
        raise MultipartError("a part is not form-data with a name")
    filename = params.get(b"filename")
    return Part(
        name=params[b"name"].decode("utf-8", errors="replace"),
        filename=None if filename is None else filename.decode("utf-8", errors="replace"),
        content_type=headers.get("content-type"),
        data=data,
    )
