"""Index segment files a crash left unindexed (renamed into place, row never committed).

A segment is renamed into its final path before its row commits; a crash in between
leaves a complete, playable file the store does not know. At start the camera maintainer
finds such files, reads their timing from the path and the file, and indexes them, so
retention and clips see all footage. Files that are not playable MP4s are left alone
(and logged).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from pathlib import Path

from sqlalchemy import select

from guardian.edge.context import EdgeContext
from guardian.edge.record.probe import ProbeError, probe
from guardian.edge.store.tables import Recording

logger = logging.getLogger(__name__)
_NAME = re.compile(r"^(\d{2})-(\d{2})-(\d{2})\.(\d{3})\.mp4$")


def segment_start(relative: Path) -> tuple[str, float] | None:
    """(camera, start) from ``<camera>/<YYYY>/<MM>/<DD>/<HH>-<MM>-<SS>.<mmm>.mp4``."""
    parts = relative.parts
    match = _NAME.match(parts[-1]) if len(parts) == 5 else None
    if match is None:
        return None
    try:
        year, month, day = (int(p) for p in parts[1:4])
        hour, minute, second, millis = (int(g) for g in match.groups())
        when = dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC)
    except ValueError:
        return None
    return parts[0], when.timestamp() + millis / 1000


def reindex_segments(ctx: EdgeContext, recordings_dir: Path) -> int:
    """Index every complete segment file without a row; returns how many were added."""
    media = ctx.settings.media_dir
    with ctx.sessions() as session:
        known = set(session.scalars(select(Recording.path)))
    added = 0
    for path in sorted(recordings_dir.rglob("*.mp4")):
        rel = str(path.relative_to(media))
        if rel in known:
            continue
        found = segment_start(path.relative_to(recordings_dir))
        if found is None:
            continue
        camera, start = found
        try:
            info = probe(path)
        except (ProbeError, OSError) as exc:
            logger.warning("unindexed segment is not playable: %s", exc, extra={"path": rel})
            continue
        with ctx.sessions.begin() as session:
            session.add(
                Recording(
                    camera=camera,
                    path=rel,
                    started_at=dt.datetime.fromtimestamp(start, dt.UTC),
                    ended_at=dt.datetime.fromtimestamp(start + info.duration, dt.UTC),
                    duration_s=round(info.duration, 3),
                    size_bytes=info.size_bytes,
                    codec=info.codec,
                    width=info.width,
                    height=info.height,
                    state="present",
                )
            )
        added += 1
    if added:
        logger.info("indexed %d segments a crash had left unindexed", added)
    return added
