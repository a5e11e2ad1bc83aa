"""The sealed blob format: round trips, every tamper case fails closed, parameter bounds."""

from __future__ import annotations

import io
import os
import struct
import tracemalloc
from pathlib import Path

import pytest

from guardian.archive.blob import (
    HEADER_BYTES,
    MIN_CHUNK_BYTES,
    MIN_MEMORY_KIB,
    NONCE_BYTES,
    RECORD_OVERHEAD,
    BlobError,
    ChunkError,
    Header,
    HeaderError,
    KdfParams,
    Sealer,
    open_stream,
    seal_stream,
    sealed_size,
)

SECRET = b"correct horse battery staple"
CHUNK = MIN_CHUNK_BYTES  # small chunks: many records from little data
KDF = KdfParams()  # the floor: t=2, m=19 MiB, p=1


def _seal(data: bytes, secret: bytes = SECRET, chunk: int = CHUNK) -> bytes:
    sink = io.BytesIO()
    size = seal_stream(secret, io.BytesIO(data), sink, kdf=KDF, chunk_bytes=chunk)
    blob = sink.getvalue()
    assert size == len(blob) == sealed_size(len(data), chunk)
    return blob


def _open(blob: bytes, secret: bytes = SECRET) -> bytes:
    sink = io.BytesIO()
    open_stream(secret, io.BytesIO(blob), sink)
    return sink.getvalue()


@pytest.fixture(scope="module")
def many_chunks() -> tuple[bytes, bytes]:
    data = os.urandom(CHUNK * 5 + 123)
    return data, _seal(data)


@pytest.mark.parametrize(
    "size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * 1024 * 1024 + 7]
)
def test_round_trip_gives_the_same_bytes(size: int) -> None:
    data = os.urandom(size)
    chunk = 1024 * 1024 if size > 1024 * 1024 else CHUNK

    blob = _seal(data, chunk=chunk)

    assert _open(blob) == data


def test_the_same_input_seals_differently_each_time() -> None:
    data = b"x" * 100
    assert _seal(data) != _seal(data)  # fresh salt and nonces


def test_header_records_the_parameters() -> None:
    blob = _seal(b"abc")
    header = Header.unpack(blob[:HEADER_BYTES])
    assert header.kdf == KDF
    assert header.chunk_bytes == CHUNK
    assert blob[:6] == b"GDNARC"


def test_every_record_has_its_own_nonce(many_chunks: tuple[bytes, bytes]) -> None:
    _, blob = many_chunks
    record = CHUNK + RECORD_OVERHEAD
    body = blob[HEADER_BYTES:]
    nonces = {body[i : i + NONCE_BYTES] for i in range(0, len(body), record)}
    assert len(nonces) == 6


def test_wrong_secret_fails_at_the_first_record(many_chunks: tuple[bytes, bytes]) -> None:
    _, blob = many_chunks
    with pytest.raises(ChunkError, match="wrong secret"):
        _open(blob, b"not the secret at all")


@pytest.mark.parametrize("where", ["header", "nonce", "ciphertext", "tag", "last byte"])
def test_a_flipped_bit_anywhere_fails(many_chunks: tuple[bytes, bytes], where: str) -> None:
    _, blob = many_chunks
    record = CHUNK + RECORD_OVERHEAD
    offset = {
        "header": 20,  # inside the salt: still a valid header, but authenticated
        "nonce": HEADER_BYTES + record + 3,
        "ciphertext": HEADER_BYTES + 2 * record + NONCE_BYTES + 100,
        "tag": HEADER_BYTES + 3 * record - 1,
        "last byte": len(blob) - 1,
    }[where]
    tampered = bytearray(blob)
    tampered[offset] ^= 0x01
    with pytest.raises(BlobError):
        _open(bytes(tampered))


def test_every_single_byte_flip_of_a_small_blob_fails() -> None:
    blob = _seal(b"short clip")
    for offset in range(len(blob)):
        tampered = bytearray(blob)
        tampered[offset] ^= 0x80
        with pytest.raises(BlobError):
            _open(bytes(tampered))


@pytest.mark.parametrize("cut", [1, RECORD_OVERHEAD, CHUNK + RECORD_OVERHEAD])
def test_truncation_fails(many_chunks: tuple[bytes, bytes], cut: int) -> None:
    _, blob = many_chunks
    with pytest.raises(ChunkError):
        _open(blob[:-cut])


def test_truncation_at_a_record_boundary_fails() -> None:
    data = os.urandom(CHUNK * 3)  # three full records, the last one final
    blob = _seal(data)
    with pytest.raises(ChunkError):
        _open(blob[: HEADER_BYTES + 2 * (CHUNK + RECORD_OVERHEAD)])


def test_dropping_the_final_short_record_fails(many_chunks: tuple[bytes, bytes]) -> None:
    _, blob = many_chunks
    last = 123 + RECORD_OVERHEAD
    with pytest.raises(ChunkError):
        _open(blob[:-last])


def test_swapping_two_records_fails(many_chunks: tuple[bytes, bytes]) -> None:
    _, blob = many_chunks
    record = CHUNK + RECORD_OVERHEAD
    first = blob[HEADER_BYTES : HEADER_BYTES + record]
    second = blob[HEADER_BYTES + record : HEADER_BYTES + 2 * record]
    swapped = blob[:HEADER_BYTES] + second + first + blob[HEADER_BYTES + 2 * record :]
    with pytest.raises(ChunkError, match="record 0"):
        _open(swapped)


@pytest.mark.parametrize("extra", [b"\x00", os.urandom(CHUNK + RECORD_OVERHEAD)])
def test_appended_data_fails(many_chunks: tuple[bytes, bytes], extra: bytes) -> None:
    _, blob = many_chunks
    with pytest.raises(ChunkError):
        _open(blob + extra)


def test_records_of_another_blob_with_the_same_secret_do_not_open() -> None:
    one, two = _seal(b"a" * 10), _seal(b"b" * 10)
    with pytest.raises(ChunkError):
        _open(one[:HEADER_BYTES] + two[HEADER_BYTES:])


def test_not_a_blob_is_a_header_error() -> None:
    with pytest.raises(HeaderError, match="magic"):
        _open(b"\x00" * 100)
    with pytest.raises(HeaderError, match="truncated"):
        _open(b"GDNARC")


def _header(t: int = 2, m: int = MIN_MEMORY_KIB, p: int = 1, chunk: int = CHUNK) -> bytes:
    return struct.pack(">6sBBIIB16sI", b"GDNARC", 1, 1, t, m, p, b"s" * 16, chunk)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"t": 1}, "time_cost"),
        ({"t": 1000}, "time_cost"),
        ({"m": MIN_MEMORY_KIB - 1}, "memory_kib"),
        ({"m": 4 * 1024 * 1024}, "memory_kib"),
        ({"p": 0}, "parallelism"),
        ({"p": 200}, "parallelism"),
        ({"chunk": 16}, "chunk_bytes"),
        ({"chunk": 1 << 30}, "chunk_bytes"),
    ],
)
def test_header_parameters_out_of_bounds_are_refused(fields: dict[str, int], message: str) -> None:
    with pytest.raises(HeaderError, match=message):
        Header.unpack(_header(**fields))


def test_unknown_version_and_kdf_are_refused() -> None:
    good = bytearray(_header())
    Header.unpack(bytes(good))
    version, kdf = bytearray(good), bytearray(good)
    version[6], kdf[7] = 2, 9
    with pytest.raises(HeaderError, match="version"):
        Header.unpack(bytes(version))
    with pytest.raises(HeaderError, match="key derivation"):
        Header.unpack(bytes(kdf))


def test_sealing_refuses_weak_parameters_and_an_empty_secret() -> None:
    with pytest.raises(HeaderError):
        Sealer(SECRET, kdf=KdfParams(time_cost=1))
    with pytest.raises(HeaderError):
        Sealer(SECRET, kdf=KdfParams(memory_kib=1024))
    with pytest.raises(ValueError, match="empty"):
        Sealer(b"")


class _CountingSource:
    """A large input produced on the fly, recording the largest read asked for."""

    def __init__(self, size: int) -> None:
        self.left = size
        self.largest = 0

    def read(self, size: int = -1, /) -> bytes:
        self.largest = max(self.largest, size)
        n = min(size, self.left)
        self.left -= n
        return b"\xa5" * n


@pytest.mark.parametrize("size", [1, CHUNK, 2 * CHUNK + 5])
def test_files_are_sealed_from_their_current_position(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    clip, blob = tmp_path / "clip", tmp_path / "blob"
    clip.write_bytes(b"skip" + data)
    with clip.open("rb") as source, blob.open("wb") as sink:
        source.read(4)
        seal_stream(SECRET, source, sink, kdf=KDF, chunk_bytes=CHUNK)
    with blob.open("rb") as source:
        out = io.BytesIO()
        open_stream(SECRET, source, out)
    assert out.getvalue() == data
    assert _open(blob.read_bytes()) == data


class _CountingSink:
    def __init__(self) -> None:
        self.total = 0
        self.largest = 0

    def write(self, data: bytes | memoryview) -> int:
        self.total += len(data)
        self.largest = max(self.largest, len(data))
        return len(data)


def test_a_multi_hundred_megabyte_input_streams_with_bounded_memory() -> None:
    size = 300 * 1024 * 1024 + 5
    source, sink = _CountingSource(size), _CountingSink()
    tracemalloc.start()
    try:
        written = seal_stream(SECRET, source, sink, kdf=KDF, chunk_bytes=1024 * 1024)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert written == sink.total == sealed_size(size, 1024 * 1024)
    assert source.largest == 1024 * 1024
    assert sink.largest == 1024 * 1024 + RECORD_OVERHEAD
    assert peak < 8 * 1024 * 1024  # a few chunks, not the input
