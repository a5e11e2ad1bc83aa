"""The relay's ClipChunk reader agrees with protobuf's parser and is no more lenient."""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf.message import DecodeError
from hypothesis import given
from hypothesis import strategies as st

from guardian.contracts.pb.guardian.v1 import link_pb2
from guardian.edge.link.media import encode_chunk
from guardian.relay.media.wire import WireChunk, WireError, parse_clip_chunk

FIELDS = ("event_id", "command_id", "offset", "data", "last", "total_size", "content_type", "kind")
U64 = st.integers(min_value=0, max_value=2**64 - 1)
TEXT = st.text(max_size=40)
chunks = st.builds(
    link_pb2.ClipChunk,
    event_id=TEXT,
    command_id=TEXT,
    offset=U64,
    data=st.binary(max_size=300),
    last=st.booleans(),
    total_size=U64,
    content_type=TEXT,
    kind=st.integers(min_value=-(2**31), max_value=2**31 - 1),
)


def _values(chunk: link_pb2.ClipChunk | WireChunk) -> dict[str, Any]:
    values = {name: getattr(chunk, name) for name in FIELDS}
    values["data"] = bytes(values["data"])
    return values


@given(chunks)
def test_a_serialised_chunk_reads_back_the_same(chunk: link_pb2.ClipChunk) -> None:
    assert _values(parse_clip_chunk(chunk.SerializeToString())) == _values(chunk)


@given(chunks, st.binary(max_size=300))
def test_the_edges_encoding_reads_back_the_same_with_both_parsers(
    chunk: link_pb2.ClipChunk, data: bytes
) -> None:
    chunk.ClearField("data")
    wire = encode_chunk(chunk, data)
    chunk.data = data
    assert _values(link_pb2.ClipChunk.FromString(wire)) == _values(chunk)
    assert _values(parse_clip_chunk(wire)) == _values(chunk)


@given(st.binary(max_size=200))
def test_whatever_it_accepts_protobuf_reads_alike(message: bytes) -> None:
    try:
        ours = parse_clip_chunk(message)
    except WireError:
        return
    assert _values(link_pb2.ClipChunk.FromString(message)) == _values(ours)


@given(chunks, st.binary(max_size=60))
def test_unknown_fields_are_skipped(chunk: link_pb2.ClipChunk, payload: bytes) -> None:
    # Field 15 as a length-delimited field, a varint and a fixed64 (none of them ClipChunk's).
    extra = bytes([0x7A, len(payload)]) + payload + bytes([0x78, 0x96, 0x01]) + bytes([0x79]) * 9
    assert _values(parse_clip_chunk(chunk.SerializeToString() + extra)) == _values(chunk)


def test_the_data_is_a_view_of_the_message_not_a_copy() -> None:
    message = link_pb2.ClipChunk(event_id="e1", data=b"x" * 1000, last=True).SerializeToString()
    data = parse_clip_chunk(message).data
    assert isinstance(data, memoryview) and data.obj is message


@pytest.mark.parametrize(
    "message",
    [
        b"\x22\x05abc",  # data runs past the end
        b"\x18\xff\xff",  # truncated varint
        b"\x18" + b"\xff" * 11,  # overlong varint
        b"\x0a\x02\xff\xfe",  # event_id not UTF-8
        b"\x3a\x01\xff\x3a\x01v",  # content_type not UTF-8, though a later one is
        b"\x00\x01",  # field number 0
        b"\x0b",  # a group
        b"\x0e",  # wire type 6
    ],
)
def test_malformed_messages_are_refused_like_protobuf_does(message: bytes) -> None:
    with pytest.raises(WireError):
        parse_clip_chunk(message)
    with pytest.raises(DecodeError):
        link_pb2.ClipChunk.FromString(message)
