"""The relay's short-lived media cache on disk, so seeking and replays skip the edge.

A clip or snapshot fetched whole from the edge is kept for ``ttl_seconds`` (0: never),
then deleted by :class:`MediaCacheCleanup`; an entry past its time is never served even
before the sweep. Entries are written to a ``.part`` file and renamed into place, so a
reader never sees half a file. File names are hashes: nothing from a request is a path.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

CACHE_DIR = "media-cache"
PART_SUFFIX = ".part"
_META_SUFFIX = ".json"


@dataclass(frozen=True, slots=True)
class CachedMedia:
    """A fresh cache entry."""

    path: Path
    size: int
    content_type: str


def _name(event_id: str, kind: str) -> str:
    return hashlib.sha256(f"{event_id}/{kind}".encode()).hexdigest()[:40]


class CacheWriter:
    """Collects one whole file; ``commit`` publishes it, ``abort`` (or a short file) drops it."""

    def __init__(self, cache: MediaCache, name: str, total: int, content_type: str) -> None:
        self._cache = cache
        self._name = name
        self._total = total
        self._content_type = content_type
        self._part = cache.root / f"{name}.{uuid.uuid4().hex}{PART_SUFFIX}"
        self._file = self._part.open("wb")
        self._written = 0
        self.done = False

    def write(self, data: bytes | memoryview) -> None:
        """Append ``data``."""
        self._file.write(data)
        self._written += len(data)

    def commit(self) -> bool:
        """Publish the entry if every byte arrived; whether it was published."""
        self._file.close()
        self.done = True
        if self._written != self._total:
            self._part.unlink(missing_ok=True)
            return False
        meta = self._cache.root / f"{self._name}{_META_SUFFIX}"
        meta_part = meta.with_name(meta.name + f".{uuid.uuid4().hex}{PART_SUFFIX}")
        meta_part.write_text(json.dumps({"content_type": self._content_type, "size": self._total}))
        os.replace(meta_part, meta)
        os.replace(self._part, self._cache.root / self._name)
        return True

    def abort(self) -> None:
        """Drop what was written."""
        if not self.done:
            self._file.close()
            self._part.unlink(missing_ok=True)
            self.done = True


class MediaCache:
    """Whole media files by (event, kind) under ``<data_dir>/media-cache``."""

    def __init__(
        self, data_dir: Path, ttl_seconds: float, clock: Callable[[], float] = time.time
    ) -> None:
        self.root = data_dir / CACHE_DIR
        self.ttl_seconds = ttl_seconds
        self._clock = clock

    @property
    def enabled(self) -> bool:
        return self.ttl_seconds > 0

    def lookup(self, event_id: str, kind: str) -> CachedMedia | None:
        """The fresh entry of ``(event_id, kind)``, or None."""
        if not self.enabled:
            return None
        path = self.root / _name(event_id, kind)
        try:
            stat = path.stat()
            meta = json.loads((self.root / f"{path.name}{_META_SUFFIX}").read_text())
        except (OSError, ValueError):
            return None
        if self._clock() - stat.st_mtime >= self.ttl_seconds or meta.get("size") != stat.st_size:
            return None
        return CachedMedia(path, stat.st_size, str(meta.get("content_type") or ""))

    def writer(self, event_id: str, kind: str, total: int, content_type: str) -> CacheWriter | None:
        """A writer for a whole file of ``total`` bytes, or None when caching is off."""
        if not self.enabled:
            return None
        self.root.mkdir(parents=True, exist_ok=True)
        return CacheWriter(self, _name(event_id, kind), total, content_type)

    def sweep(self) -> int:
        """Delete entries past their time and abandoned part files; how many files went."""
        if not self.root.is_dir():
            return 0
        now = self._clock()
        removed = 0
        for path in self.root.iterdir():
            try:
                age = now - path.stat().st_mtime
            except OSError:
                continue
            # A part file is abandoned when nobody wrote it for long (transfers stall out).
            limit = max(self.ttl_seconds, 600.0) if path.name.endswith(PART_SUFFIX) else None
            if path.name.endswith(_META_SUFFIX):
                data = path.with_name(path.name.removesuffix(_META_SUFFIX))
                expired = not data.exists() and age >= 60.0
            else:
                expired = age >= (self.ttl_seconds if limit is None else limit)
            if expired:
                path.unlink(missing_ok=True)
                if limit is None and not path.name.endswith(_META_SUFFIX):
                    (self.root / f"{path.name}{_META_SUFFIX}").unlink(missing_ok=True)
                removed += 1
        return removed


class MediaCacheCleanup(threading.Thread):
    """Sweeps the media cache every few seconds until ``stop_event`` is set."""

    def __init__(self, cache: MediaCache, stop_event: threading.Event) -> None:
        super().__init__(name="media-cache-cleanup", daemon=True)
        self._cache = cache
        self._stop_event = stop_event
        self.interval = max(1.0, min(cache.ttl_seconds / 2, 30.0))

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            try:
                removed = self._cache.sweep()
            except OSError as exc:
                logger.warning("media cache sweep failed: %s", exc)
                continue
            if removed:
                logger.info("media cache swept", extra={"removed": removed})
