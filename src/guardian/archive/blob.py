"""The sealed archive blob: Argon2id-derived key, AES-256-GCM in fixed-size chunks (pure).

Layout (byte by byte in docs/archive-format.md): a 38-byte header naming the format, the
Argon2id parameters, the salt and the chunk size; then records of ``nonce(12) ||
ciphertext || tag(16)``. Every record's AAD is ``header || index (u64 BE) || final (u8)``,
so a changed header, a reordered, dropped, truncated or appended record fails to open.
Sealing and opening stream between binary files; memory stays at about one chunk.
"""

from __future__ import annotations

import io
import mmap
import os
import stat
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"GDNARC"
VERSION = 1
KDF_ARGON2ID = 1
SALT_BYTES = 16
NONCE_BYTES = 12
TAG_BYTES = 16
KEY_BYTES = 32
RECORD_OVERHEAD = NONCE_BYTES + TAG_BYTES
# magic(6) version(1) kdf(1) time_cost(4) memory_kib(4) parallelism(1) salt(16) chunk_size(4)
_HEADER = struct.Struct(f">{len(MAGIC)}sBBIIB{SALT_BYTES}sI")
HEADER_BYTES = _HEADER.size
_AAD_TAIL = struct.Struct(">QB")

# Accepted parameter ranges. The floors are OWASP's Argon2id guidance (19 MiB, t=2, p=1);
# the ceilings stop a crafted header from making the opener spend unbounded memory or time.
MIN_TIME_COST, MAX_TIME_COST = 2, 16
MIN_MEMORY_KIB, MAX_MEMORY_KIB = 19 * 1024, 1024 * 1024
MIN_PARALLELISM, MAX_PARALLELISM = 1, 8
MIN_CHUNK_BYTES, MAX_CHUNK_BYTES = 4 * 1024, 16 * 1024 * 1024
DEFAULT_CHUNK_BYTES = 1024 * 1024


class Source(Protocol):
    """A binary stream to read from (a file, ``io.BytesIO``, …)."""

    def read(self, size: int = -1, /) -> bytes: ...


class Sink(Protocol):
    """A binary stream to write to."""

    def write(self, data: bytes | memoryview, /) -> object: ...


class BlobError(Exception):
    """A blob that cannot be opened: malformed, tampered with, or the wrong secret."""


class HeaderError(BlobError):
    """The header is not a valid archive header (format, version or parameter bounds)."""


class ChunkError(BlobError):
    """A record failed authentication (tampered, reordered, truncated or wrong secret)."""


@dataclass(frozen=True, slots=True)
class KdfParams:
    """Argon2id cost parameters (``memory_kib`` in KiB)."""

    time_cost: int = 2
    memory_kib: int = MIN_MEMORY_KIB
    parallelism: int = 1

    def check(self) -> None:
        """Raise :class:`HeaderError` unless every parameter is within the accepted range."""
        _within("time_cost", self.time_cost, MIN_TIME_COST, MAX_TIME_COST)
        _within("memory_kib", self.memory_kib, MIN_MEMORY_KIB, MAX_MEMORY_KIB)
        _within("parallelism", self.parallelism, MIN_PARALLELISM, MAX_PARALLELISM)


def _within(name: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise HeaderError(f"{name} {value} is outside the accepted range {low}..{high}")


@dataclass(frozen=True, slots=True)
class Header:
    """The blob header: KDF parameters, salt and plaintext chunk size."""

    kdf: KdfParams
    salt: bytes
    chunk_bytes: int

    def pack(self) -> bytes:
        """The header's bytes (validated first)."""
        self.check()
        k = self.kdf
        return _HEADER.pack(
            MAGIC,
            VERSION,
            KDF_ARGON2ID,
            k.time_cost,
            k.memory_kib,
            k.parallelism,
            self.salt,
            self.chunk_bytes,
        )

    def check(self) -> None:
        """Raise :class:`HeaderError` for parameters outside the accepted ranges."""
        self.kdf.check()
        _within("chunk_bytes", self.chunk_bytes, MIN_CHUNK_BYTES, MAX_CHUNK_BYTES)
        if len(self.salt) != SALT_BYTES:
            raise HeaderError(f"the salt must be {SALT_BYTES} bytes")

    @classmethod
    def unpack(cls, data: bytes) -> Header:
        """Parse and validate a header (:class:`HeaderError` if it is not one we accept)."""
        if len(data) < HEADER_BYTES:
            raise HeaderError("truncated header: not an archive blob")
        magic, version, kdf, t, m, p, salt, chunk = _HEADER.unpack(data[:HEADER_BYTES])
        if magic != MAGIC:
            raise HeaderError("not an archive blob (bad magic)")
        if version != VERSION:
            raise HeaderError(f"unsupported archive format version {version}")
        if kdf != KDF_ARGON2ID:
            raise HeaderError(f"unsupported key derivation {kdf}")
        header = cls(KdfParams(t, m, p), salt, chunk)
        header.check()
        return header


def derive_key(secret: bytes, salt: bytes, params: KdfParams) -> bytes:
    """The 256-bit AES key of ``secret`` with Argon2id (``params`` checked first)."""
    params.check()
    if not secret:
        raise ValueError("the archive secret is empty")
    return hash_secret_raw(
        secret,
        salt,
        time_cost=params.time_cost,
        memory_cost=params.memory_kib,
        parallelism=params.parallelism,
        hash_len=KEY_BYTES,
        type=Type.ID,
    )


def _aad(header: bytes, index: int, final: bool) -> bytes:
    return header + _AAD_TAIL.pack(index, 1 if final else 0)


def _fill(source: Source, buffer: bytearray) -> int:
    """Read into ``buffer`` until it is full or ``source`` ends; the bytes read."""
    readinto = getattr(source, "readinto", None)
    view = memoryview(buffer)
    filled = 0
    while filled < len(buffer):
        if readinto is not None:
            got = readinto(view[filled:])
        else:
            part = source.read(len(buffer) - filled)
            got = len(part)
            view[filled : filled + got] = part
        if not got:
            break
        filled += got
    return filled


class Sealer:
    """Seals plaintext streams for one key (derived once per blob from the secret and salt)."""

    def __init__(
        self,
        secret: bytes,
        *,
        kdf: KdfParams | None = None,
        chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    ) -> None:
        self.header = Header(kdf or KdfParams(), os.urandom(SALT_BYTES), chunk_bytes)
        self._header_bytes = self.header.pack()
        self._aead = AESGCM(derive_key(secret, self.header.salt, self.header.kdf))

    def records(self, source: Source) -> Iterator[bytes | memoryview]:
        """The header, then one sealed record per chunk of ``source`` (the last one final).

        Records are views of one reused buffer: each is valid until the next is asked for
        (write it out first). Memory stays at a few chunks whatever the input size.
        """
        yield self._header_bytes
        size = self.header.chunk_bytes
        out = memoryview(bytearray(size + RECORD_OVERHEAD))
        for index, (chunk, final) in enumerate(_chunks(source, size)):
            nonce = os.urandom(NONCE_BYTES)
            out[:NONCE_BYTES] = nonce
            end = NONCE_BYTES + len(chunk) + TAG_BYTES
            aad = _aad(self._header_bytes, index, final)
            self._aead.encrypt_into(nonce, chunk, aad, out[NONCE_BYTES:end])
            yield out[:end]


def _chunks(source: Source, size: int) -> Iterator[tuple[memoryview, bool]]:
    """``source`` in chunks of ``size`` (the last shorter, possibly empty) and a final flag.

    A regular file is memory-mapped (no copy through user space); anything else is read
    into two reused buffers (one chunk of look-ahead tells which chunk is final).
    """
    mapped = _map(source)
    if mapped is not None:
        yield from _mapped_chunks(*mapped, size)
        return
    current, following = bytearray(size), bytearray(size)
    filled = _fill(source, current)
    while True:
        more = _fill(source, following) if filled == size else 0
        with memoryview(current) as view, view[:filled] as chunk:
            yield chunk, more == 0
        if more == 0:
            return
        current, following, filled = following, current, more


def _map(source: Source) -> tuple[mmap.mmap, int] | None:
    """A read-only map of the rest of ``source`` when it is a non-empty regular file."""
    fileno, tell = getattr(source, "fileno", None), getattr(source, "tell", None)
    if fileno is None or tell is None:
        return None
    try:
        fd = fileno()
        info = os.fstat(fd)
        start = int(tell())
        if not stat.S_ISREG(info.st_mode) or info.st_size <= start:
            return None
        return mmap.mmap(fd, 0, access=mmap.ACCESS_READ), start
    except (OSError, ValueError, io.UnsupportedOperation):
        return None


def _mapped_chunks(mapped: mmap.mmap, start: int, size: int) -> Iterator[tuple[memoryview, bool]]:
    total = len(mapped)
    try:
        with memoryview(mapped) as view:
            offset = start
            while True:
                end = min(offset + size, total)
                with view[offset:end] as chunk:
                    yield chunk, end == total
                if end == total:
                    return
                offset = end
    finally:
        mapped.close()


def seal_stream(
    secret: bytes,
    source: Source,
    sink: Sink,
    *,
    kdf: KdfParams | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> int:
    """Seal ``source`` into ``sink`` with a fresh salt; returns the blob's size in bytes."""
    written = 0
    for record in Sealer(secret, kdf=kdf, chunk_bytes=chunk_bytes).records(source):
        sink.write(record)
        written += len(record)
    return written


KeyDeriver = Callable[[bytes, bytes, KdfParams], bytes]


def open_records(
    secret: bytes, source: Source, *, derive: KeyDeriver = derive_key
) -> Iterator[memoryview]:
    """Yield the plaintext chunks of the blob in ``source``, each verified before it is yielded.

    Raises :class:`BlobError` at the first bad header or record. The caller must not keep
    the output of a blob that raised: a truncated blob is only detected at its end. Chunks
    are views of one reused buffer, valid until the next is asked for.
    """
    header_bytes = bytearray(HEADER_BYTES)
    header = Header.unpack(bytes(header_bytes[: _fill(source, header_bytes)]))
    header_bytes_b = bytes(header_bytes)
    aead = AESGCM(derive(secret, header.salt, header.kdf))
    record_size = header.chunk_bytes + RECORD_OVERHEAD
    current, following = bytearray(record_size), bytearray(record_size)
    plain = memoryview(bytearray(header.chunk_bytes))
    index = 0
    filled = _fill(source, current)
    while True:
        if filled < RECORD_OVERHEAD:
            raise ChunkError(f"record {index} is truncated (the blob ends early)")
        more = _fill(source, following) if filled == record_size else 0
        final = more == 0
        view = memoryview(current)[:filled]
        size = filled - RECORD_OVERHEAD
        try:
            aead.decrypt_into(
                view[:NONCE_BYTES],
                view[NONCE_BYTES:],
                _aad(header_bytes_b, index, final),
                plain[:size],
            )
        except InvalidTag:
            if index == 0:
                raise ChunkError(
                    "record 0 does not authenticate: wrong secret, or the blob is corrupted"
                ) from None
            raise ChunkError(
                f"record {index} does not authenticate: the blob is corrupted, truncated or "
                "reordered"
            ) from None
        yield plain[:size]
        if final:
            return
        current, following, filled, index = following, current, more, index + 1


def open_stream(
    secret: bytes, source: Source, sink: Sink, *, derive: KeyDeriver = derive_key
) -> int:
    """Decrypt the blob in ``source`` into ``sink``; returns the plaintext size.

    ``derive`` computes the key (Argon2id); a benchmark passes a cached one.
    """
    written = 0
    for chunk in open_records(secret, source, derive=derive):
        sink.write(chunk)
        written += len(chunk)
    return written


def sealed_size(plain_bytes: int, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> int:
    """The size of the blob sealing ``plain_bytes`` bytes in chunks of ``chunk_bytes``."""
    records = max(1, -(-plain_bytes // chunk_bytes))
    return HEADER_BYTES + plain_bytes + records * RECORD_OVERHEAD
