"""Crash-safe file primitives: temp file → fsync → rename → fsync the directory."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from guardian.common.fsutil import fsync_dir

TEMP_SUFFIX = ".tmp"


def temp_name(path: Path) -> Path:
    """A unique hidden temp path next to ``path`` (same directory, so rename is atomic)."""
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}{TEMP_SUFFIX}")


def is_temp(path: Path) -> bool:
    """Whether ``path`` is a temp file left by :func:`write_atomic` (e.g. after a crash)."""
    return path.name.startswith(".") and path.name.endswith(TEMP_SUFFIX)


def write_atomic(path: Path, data: bytes, *, sync_dir: bool = True) -> None:
    """Replace ``path`` with ``data`` so a crash leaves either the old or the new content."""
    tmp = temp_name(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if sync_dir:
        fsync_dir(path.parent)


def unlink_durable(path: Path, *, missing_ok: bool = True) -> None:
    """Remove ``path`` and make the removal durable."""
    path.unlink(missing_ok=missing_ok)
    fsync_dir(path.parent)
