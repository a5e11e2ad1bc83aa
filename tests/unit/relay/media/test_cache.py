"""The relay's media cache on a real folder: whole files only, served while fresh, swept."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from guardian.relay.media.cache import PART_SUFFIX, MediaCache, MediaCacheCleanup


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _store(cache: MediaCache, data: bytes, total: int | None = None) -> bool:
    writer = cache.writer("e1", "clip", len(data) if total is None else total, "video/mp4")
    assert writer is not None
    writer.write(data[:10])
    writer.write(data[10:])
    return writer.commit()


def test_a_whole_file_is_served_until_it_expires_then_swept(tmp_path: Path) -> None:
    clock = Clock(os.path.getmtime(tmp_path))
    cache = MediaCache(tmp_path, 60, clock)
    assert _store(cache, b"0123456789abcdef")
    entry = cache.lookup("e1", "clip")
    assert entry is not None and entry.path.read_bytes() == b"0123456789abcdef"
    assert (entry.size, entry.content_type) == (16, "video/mp4")
    assert cache.lookup("e1", "snapshot") is None
    assert cache.sweep() == 0
    clock.now = entry.path.stat().st_mtime + 61
    assert cache.lookup("e1", "clip") is None  # expired: never served, even before a sweep
    assert cache.sweep() >= 1
    assert list(cache.root.iterdir()) == []


def test_short_or_aborted_files_are_never_published(tmp_path: Path) -> None:
    cache = MediaCache(tmp_path, 60)
    assert not _store(cache, b"too short", total=100)
    assert cache.lookup("e1", "clip") is None
    writer = cache.writer("e1", "clip", 5, "video/mp4")
    assert writer is not None
    writer.write(b"12")
    writer.abort()
    assert not any(p.name.endswith(PART_SUFFIX) for p in cache.root.iterdir())


def test_zero_seconds_turns_the_cache_off(tmp_path: Path) -> None:
    cache = MediaCache(tmp_path, 0)
    assert not cache.enabled
    assert cache.writer("e1", "clip", 1, "video/mp4") is None
    assert cache.lookup("e1", "clip") is None


def test_the_cleanup_thread_sweeps_until_stopped(tmp_path: Path) -> None:
    cache = MediaCache(tmp_path, 0.5)
    assert _store(cache, b"abc" * 10)
    stop = threading.Event()
    cleanup = MediaCacheCleanup(cache, stop)
    cleanup.interval = 0.1
    cleanup.start()
    try:
        deadline = threading.Event()
        for _ in range(50):
            if not any(cache.root.iterdir()):
                break
            deadline.wait(0.1)
        assert not any(cache.root.iterdir())
    finally:
        stop.set()
        cleanup.join(5)
