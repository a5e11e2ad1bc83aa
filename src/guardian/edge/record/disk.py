"""The disk guard: pause recording under a critical free-space floor, resume with headroom."""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)
RESUME_HEADROOM = 1.2  # resume once free space is 20% above the floor


@dataclass(frozen=True, slots=True)
class DiskUsage:
    total: int
    used: int
    free: int

    @property
    def used_fraction(self) -> float:
        return self.used / self.total if self.total else 1.0


def disk_usage(path: Path) -> DiskUsage:
    usage = shutil.disk_usage(path)
    return DiskUsage(usage.total, usage.used, usage.free)


def recording_allowed(free: int, floor: int, currently_allowed: bool) -> bool:
    """Hysteresis: stop below ``floor`` free bytes, start again above ``floor * 1.2``."""
    if currently_allowed:
        return free >= floor
    return free >= floor * RESUME_HEADROOM


class DiskGuard:
    """Reads the media disk's free space at most every ``min_interval_s`` and decides."""

    def __init__(
        self,
        media_dir: Path,
        floor_bytes: int,
        *,
        min_interval_s: float = 2.0,
        usage: Callable[[Path], DiskUsage] = disk_usage,
        clock: Callable[[], float] | None = None,
    ) -> None:
        import time

        self._dir = media_dir
        self._floor = floor_bytes
        self._interval = min_interval_s
        self._usage = usage
        self._clock = clock or time.monotonic
        self._lock = threading.Lock()
        self._allowed = True
        self._checked = -float("inf")
        self.last: DiskUsage | None = None

    def refresh(self) -> bool:
        """Read the disk now; returns whether recording is allowed."""
        try:
            usage = self._usage(self._dir)
        except OSError as exc:
            logger.warning("cannot read disk usage of %s: %s", self._dir, exc)
            return self._allowed
        with self._lock:
            self.last = usage
            allowed = recording_allowed(usage.free, self._floor, self._allowed)
            if allowed != self._allowed:
                logger.warning(
                    "recording %s: %d bytes free (floor %d)",
                    "resumed" if allowed else "paused",
                    usage.free,
                    self._floor,
                )
            self._allowed = allowed
            self._checked = self._clock()
        return allowed

    def recording_allowed(self) -> bool:
        """Cheap check for every packet: re-reads the disk only when the reading is stale."""
        if self._clock() - self._checked >= self._interval:
            return self.refresh()
        return self._allowed

    @property
    def paused(self) -> bool:
        return not self._allowed
