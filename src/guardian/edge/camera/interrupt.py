"""Interrupting a blocked FFmpeg call (open or read) of one thread from another.

PyAV aborts a blocking FFmpeg call when its interrupt callback sees time.monotonic()
pass start + timeout, but offers no way to trigger that from another thread. The
callback runs in the thread that made the call and reads ``time.monotonic`` from
av.container.core's globals, so a shim there that jumps ahead for flagged threads
(and only for them) makes the call return at once. If a PyAV version changes this,
the hook is not installed and interrupt() falls back to waiting for the timeouts.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

logger = logging.getLogger(__name__)

_FLAGGED: dict[int, int] = {}  # thread id -> calls since flagged
_HOOK_LOCK = threading.Lock()
_hook_installed = False


class _MonotonicShim:
    """``time`` stand-in whose monotonic() leaps ahead, call after call, in flagged threads."""

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)

    @staticmethod
    def monotonic() -> float:
        now = time.monotonic()
        tid = threading.get_ident()
        calls = _FLAGGED.get(tid)
        if calls is None:
            return now
        # Each call leaps further, so a timeout started after flagging still expires.
        _FLAGGED[tid] = calls + 1
        return now + 1e9 * (calls + 1)


def _install_hook() -> bool:
    global _hook_installed
    with _HOOK_LOCK:
        if not _hook_installed:
            import av.container.core as core

            if getattr(core, "time", None) is time:
                setattr(core, "time", _MonotonicShim())  # noqa: B010
                _hook_installed = True
            else:
                logger.debug("PyAV interrupt hook unavailable; interrupt() waits for timeouts")
        return _hook_installed


def flag_thread(tid: int) -> None:
    if _install_hook():
        _FLAGGED.setdefault(tid, 0)


def release_thread(tid: int) -> None:
    _FLAGGED.pop(tid, None)


def any_flagged() -> bool:
    """Whether some thread is flagged (a cheap check before releasing one)."""
    return bool(_FLAGGED)
