"""``guardian bench archive``: sealing and opening throughput against raw AES-256-GCM.

The same bytes, in the same run: the raw baseline is one ``AESGCM.encrypt`` (and
``decrypt``) per chunk of the same size over bytes in memory with ``cryptography``,
nothing else. Sealing reads the clip from a file (as the edge does; in the page cache
after the first round), adds the per-record nonce and AAD, and hands each record to a
sink. Key derivation (Argon2id) is timed apart: it is paid once per blob, not per byte.
"""

from __future__ import annotations

import functools
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from guardian.archive.blob import (
    DEFAULT_CHUNK_BYTES,
    HEADER_BYTES,
    Header,
    KdfParams,
    Sealer,
    derive_key,
    open_stream,
    seal_stream,
)
from guardian.bench.stats import Goal, summary

SEAL_RATIO_TARGET = 0.8
MIB = 1024 * 1024


class _Discard:
    """A sink that keeps nothing (so memory and copies do not blur the comparison)."""

    def write(self, data: bytes | memoryview) -> int:
        return len(data)


def _each(run: Callable[[bytes], object], chunks: list[bytes]) -> None:
    for chunk in chunks:
        run(chunk)


def _seal(sealer: Sealer, path: Path) -> None:
    sink = _Discard()
    with path.open("rb") as source:
        for record in sealer.records(source):
            sink.write(record)


def _open(secret: bytes, path: Path, key: bytes) -> None:
    with path.open("rb") as source:
        open_stream(secret, source, _Discard(), derive=lambda *_: key)


def _timed(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def run_archive_bench(
    *, megabytes: int = 64, rounds: int = 5, chunk_bytes: int = DEFAULT_CHUNK_BYTES
) -> dict[str, Any]:
    """Seal/open MB/s vs raw AES-256-GCM over the same bytes; Argon2id derivation time."""
    with tempfile.TemporaryDirectory(prefix="guardian-bench-archive-") as folder:
        return _run(Path(folder), megabytes, rounds, chunk_bytes)


def _run(folder: Path, megabytes: int, rounds: int, chunk_bytes: int) -> dict[str, Any]:
    data = os.urandom(megabytes * MIB)
    clip, blob = folder / "clip", folder / "blob"
    clip.write_bytes(data)
    secret = b"benchmark secret"
    kdf = KdfParams()
    key = os.urandom(32)
    aead = AESGCM(key)
    nonce = os.urandom(12)
    chunks = [data[i : i + chunk_bytes] for i in range(0, len(data), chunk_bytes)]
    sealed_chunks = [aead.encrypt(nonce, c, None) for c in chunks]
    with clip.open("rb") as source, blob.open("wb") as sink:
        seal_stream(secret, source, sink, kdf=kdf, chunk_bytes=chunk_bytes)
    header = Header.unpack(blob.read_bytes()[:HEADER_BYTES])
    blob_key = derive_key(secret, header.salt, header.kdf)  # opening is timed without it

    raw_enc: list[float] = []
    raw_dec: list[float] = []
    seal_s: list[float] = []
    open_s: list[float] = []
    derive_s: list[float] = []
    salts = [os.urandom(16) for _ in range(rounds)]
    sealers = [Sealer(secret, kdf=kdf, chunk_bytes=chunk_bytes) for _ in range(rounds)]
    for salt, sealer in zip(salts, sealers, strict=True):  # interleaved: noise hits all alike
        # Outputs are dropped as they come, in the baseline as in sealing.
        raw_enc.append(_timed(lambda: _each(lambda c: aead.encrypt(nonce, c, None), chunks)))
        derive_s.append(_timed(functools.partial(derive_key, secret, salt, kdf)))
        seal_s.append(_timed(functools.partial(_seal, sealer, clip)))
        raw_dec.append(_timed(lambda: _each(lambda c: aead.decrypt(nonce, c, None), sealed_chunks)))
        open_s.append(_timed(functools.partial(_open, secret, blob, blob_key)))

    def mbps(seconds: list[float]) -> float:
        return round(megabytes / summary(seconds)["median"], 1)

    seal_ratio = summary(raw_enc)["median"] / summary(seal_s)["median"]
    open_ratio = summary(raw_dec)["median"] / summary(open_s)["median"]
    goals: list[Goal] = [
        {
            "name": "seal_ratio",
            "value": round(seal_ratio, 3),
            "target": SEAL_RATIO_TARGET,
            "better": "higher",
        }
    ]
    return {
        "bench": "archive",
        "megabytes": megabytes,
        "rounds": rounds,
        "chunk_bytes": chunk_bytes,
        "kdf": {"time_cost": kdf.time_cost, "memory_kib": kdf.memory_kib, "parallelism": 1},
        "raw_encrypt_mb_s": mbps(raw_enc),
        "seal_mb_s": mbps(seal_s),
        "raw_decrypt_mb_s": mbps(raw_dec),
        "open_mb_s": mbps(open_s),
        "open_ratio": round(open_ratio, 3),
        "argon2id_ms_median": round(summary(derive_s)["median"] * 1e3, 1),
        "seal_ratio": round(seal_ratio, 3),
        "goals": goals,
    }
