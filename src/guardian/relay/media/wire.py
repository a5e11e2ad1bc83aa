"""``ClipChunk`` read from its protobuf wire form with the media bytes left in place.

gRPC hands the servicer each upload message as one ``bytes`` object; protobuf's parser
would copy the data field into the message and again on every ``.data`` access. This
reader walks the wire format (protobuf's encoding spec: varint keys, wire types 0/1/2/5)
and keeps ``data`` as a view of the received message, so the bytes are copied only into
the HTTP response's socket. It is no more lenient than protobuf: anything it accepts,
``ClipChunk.FromString`` parses to the same values (tests check that on arbitrary bytes).
"""

from __future__ import annotations

from dataclasses import dataclass

_VARINT, _FIXED64, _LENGTH, _FIXED32 = 0, 1, 2, 5
# ClipChunk's fields: number -> (name, wire type).
_FIELDS = {
    1: ("event_id", _LENGTH),
    2: ("command_id", _LENGTH),
    3: ("offset", _VARINT),
    4: ("data", _LENGTH),
    5: ("last", _VARINT),
    6: ("total_size", _VARINT),
    7: ("content_type", _LENGTH),
    8: ("kind", _VARINT),
}
_MAX_FIELD = (1 << 29) - 1
_U64 = (1 << 64) - 1


class WireError(ValueError):
    """Not a well-formed ClipChunk message."""


@dataclass(frozen=True, slots=True)
class WireChunk:
    """A ``ClipChunk`` whose ``data`` is a view of the message it came in (same field names)."""

    event_id: str = ""
    command_id: str = ""
    offset: int = 0
    data: bytes | memoryview = b""
    last: bool = False
    total_size: int = 0
    content_type: str = ""
    kind: int = 0


def _varint(message: bytes, pos: int) -> tuple[int, int]:
    """The varint at ``pos`` (at most 10 bytes) and the position after it."""
    value = shift = 0
    end = min(len(message), pos + 10)
    while pos < end:
        byte = message[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value & _U64, pos
        shift += 7
    raise WireError("truncated or overlong varint")


def parse_clip_chunk(message: bytes) -> WireChunk:
    """Read one ``ClipChunk`` (``WireError`` when malformed); unknown fields are skipped."""
    view = memoryview(message)
    numbers: dict[str, int] = {}
    texts: dict[str, str] = {}
    data: bytes | memoryview = b""
    pos, end = 0, len(message)
    while pos < end:
        key, pos = _varint(message, pos)
        number, wire_type = key >> 3, key & 7
        if number == 0 or number > _MAX_FIELD:
            raise WireError(f"invalid field number {number}")
        field = _FIELDS.get(number)
        name = field[0] if field is not None and field[1] == wire_type else None
        # An unknown field (or one of another wire type) is skipped, as protobuf sets it
        # aside; the last occurrence of a known one wins, as in protobuf.
        if wire_type == _VARINT:
            value, pos = _varint(message, pos)
            if name is not None:
                numbers[name] = value
        elif wire_type == _LENGTH:
            length, pos = _varint(message, pos)
            if length > end - pos:
                raise WireError("a field runs past the end of the message")
            if name == "data":
                data = view[pos : pos + length]
            elif name is not None:
                texts[name] = _text(view[pos : pos + length], name)  # each one must be UTF-8
            pos += length
        elif wire_type in (_FIXED64, _FIXED32):
            size = 8 if wire_type == _FIXED64 else 4
            if size > end - pos:
                raise WireError("a field runs past the end of the message")
            pos += size
        else:
            raise WireError(f"unsupported wire type {wire_type}")
    kind = numbers.get("kind", 0) & 0xFFFFFFFF  # an enum is an int32 on the wire
    return WireChunk(
        event_id=texts.get("event_id", ""),
        command_id=texts.get("command_id", ""),
        offset=numbers.get("offset", 0),
        data=data,
        last=bool(numbers.get("last", 0)),
        total_size=numbers.get("total_size", 0),
        content_type=texts.get("content_type", ""),
        kind=kind - (1 << 32) if kind & 0x80000000 else kind,
    )


def _text(value: memoryview, name: str) -> str:
    try:
        return str(value, "utf-8")
    except UnicodeDecodeError as exc:
        raise WireError(f"{name} is not UTF-8") from exc
