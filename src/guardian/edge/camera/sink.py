"""Where a camera's event actions go: snapshot files, then event rows in one transaction."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from guardian.common.db import utcnow
from guardian.edge.camera.config import CameraConfig
from guardian.edge.events.camera_store import ClipPlan, StoredMedia, apply_action, event_id_for
from guardian.edge.record.snapshots import RgbImage, write_snapshot
from guardian.edge.track.lifecycle import EventAction

logger = logging.getLogger(__name__)
FrameLookup = Callable[[float], RgbImage | None]


class EventSink:
    """Writes one camera's event actions: best-frame snapshots, event rows, clip requests.

    A snapshot is rewritten only when the event's best frame changed. Clips are requested
    (as pending ``event_media`` rows) when an event ends and the camera records; the clip
    maker builds them once the post-roll is on disk. Storage errors (a full disk) lose the
    snapshot, never the event; database errors are logged and the next action of the same
    event writes the row again (actions are upserts).
    """

    def __init__(
        self,
        config: CameraConfig,
        sessions: sessionmaker[Session],
        media_dir: Path,
        *,
        recording: Callable[[], bool],
        settle_s: float = 2.0,
    ) -> None:
        self.config = config
        self._sessions = sessions
        self._media_dir = media_dir
        self._recording = recording
        self._settle = settle_s
        self._written: dict[str, float] = {}
        self.events_written = 0
        self.errors = 0

    def _snapshot(self, action: EventAction, frames: FrameLookup) -> list[StoredMedia]:
        if self._written.get(action.key) == action.best_ts:
            return []
        frame = frames(action.best_ts)
        if frame is None:
            return []
        event_id = event_id_for(action.key)
        try:
            files = write_snapshot(
                self._media_dir, action.camera, event_id, action.start_ts, frame, action.best_box
            )
        except OSError as exc:
            logger.warning(
                "snapshot not written: %s", exc, extra={"camera": action.camera, "key": action.key}
            )
            return []
        self._written[action.key] = action.best_ts
        meta = {"width": files.width, "height": files.height, "at": action.best_ts}
        return [
            StoredMedia("snapshot", files.snapshot, "image/jpeg", files.snapshot_bytes, meta),
            StoredMedia("thumbnail", files.thumbnail, "image/jpeg", files.thumbnail_bytes, meta),
        ]

    def _clip(self, action: EventAction) -> ClipPlan | None:
        if action.kind != "end" or not self.config.record or not self._recording():
            return None
        end = (action.end_ts if action.end_ts is not None else action.ts) + self.config.post_roll_s
        start = action.start_ts - self.config.pre_roll_s
        return ClipPlan(start, end, end + self._settle)

    def handle(self, actions: Sequence[EventAction], frames: FrameLookup) -> None:
        """Write ``actions`` (in order); ``frames`` finds a best frame by its timestamp."""
        if not actions:
            return
        prepared = [(a, self._snapshot(a, frames), self._clip(a)) for a in actions]
        try:
            with self._sessions.begin() as session:
                now = utcnow()
                for action, media, clip in prepared:
                    apply_action(
                        session,
                        action,
                        now=now,
                        events_days=self.config.retention.events_days,
                        media=media,
                        clip=clip,
                    )
        except Exception:
            self.errors += 1
            for action, media, _ in prepared:
                if media:  # not recorded: write the snapshot again with the next action
                    self._written.pop(action.key, None)
            logger.exception("camera events not stored", extra={"camera": self.config.name})
            return
        self.events_written += len(prepared)
        for action in actions:
            if action.kind == "end":
                self._written.pop(action.key, None)
