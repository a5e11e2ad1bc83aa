"""Capture files on disk: the canonical layout, ``file://`` URIs and the crash-safe write."""

from __future__ import annotations

import datetime as dt
import logging
import os
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlsplit

from guardian.common import faults
from guardian.common.fsutil import fsync_dir

logger = logging.getLogger(__name__)

CAPTURES_DIR = "captures"
TMP_PREFIX = ".tmp-"


def captures_root(media_dir: Path) -> Path:
    """The folder holding every device's capture files."""
    return media_dir / CAPTURES_DIR


def capture_path(
    media_dir: Path, device_id: str, captured_at: dt.datetime, capture_id: str, extension: str
) -> Path:
    """``<media>/captures/<device>/<YYYY>/<MM>/<DD>/<capture_id>.<ext>`` (UTC date).

    ``device_id`` and ``capture_id`` must be single safe path components (the registry and
    the ingest guarantee it); this is checked again here because a path escape is costly.
    """
    if captured_at.tzinfo is None:
        raise ValueError("captured_at must be timezone-aware")
    for part in (device_id, capture_id, extension):
        if not part or part.startswith(".") or "/" in part or "\\" in part or "\0" in part:
            raise ValueError(f"unsafe path component {part!r}")
    day = captured_at.astimezone(dt.UTC)
    return (
        captures_root(media_dir)
        / device_id
        / f"{day.year:04d}"
        / f"{day.month:02d}"
        / f"{day.day:02d}"
        / f"{capture_id}.{extension}"
    )


def path_to_uri(path: Path) -> str:
    """The ``file://`` URI of ``path`` (made absolute)."""
    return path.absolute().as_uri()


def uri_to_path(uri: str) -> Path:
    """The local path of a ``file://`` URI; ``ValueError`` for any other kind of URI."""
    parts = urlsplit(uri)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
        raise ValueError(f"not a local file:// URI: {uri!r}")
    return Path(unquote(parts.path))


def ensure_dir(path: Path) -> None:
    """Create ``path`` and missing parents, fsyncing each parent whose entries changed."""
    if path.is_dir():
        return
    ensure_dir(path.parent)
    try:
        path.mkdir()
    except FileExistsError:
        return  # made concurrently by another upload; its creator fsyncs the parent
    fsync_dir(path.parent)


def write_durably(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash at any point leaves it whole or absent.

    Order: temp file (``.tmp-…``) in the target folder → write → fsync → rename → fsync
    the folder. A crash may leave a ``.tmp-`` file or a renamed file without a row; the
    cleanup job sweeps both. ``path`` must not exist yet.
    """
    ensure_dir(path.parent)
    fd, tmp_name = tempfile.mkstemp(prefix=TMP_PREFIX, suffix=".part", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        faults.hit("after_tmp_write")
        os.rename(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
    faults.hit("after_rename")


def remove_file(path: Path) -> None:
    """Delete a capture file we wrote but did not commit (best effort; cleanup is the backstop)."""
    try:
        path.unlink(missing_ok=True)
    except OSError:
        logger.warning("could not remove uncommitted capture file", extra={"path": str(path)})
