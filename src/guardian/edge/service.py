"""``guardian edge run``: the HTTP API plus the in-process workers, under one supervisor."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

import uvicorn

from guardian.common.supervise import Supervisor
from guardian.edge.config import EdgeSettings
from guardian.edge.context import EdgeContext, build_context

if TYPE_CHECKING:
    from guardian.edge.camera.scheduler import BatchDetector

logger = logging.getLogger(__name__)


def build_supervisor(ctx: EdgeContext) -> Supervisor:
    """Capture workers, the model reloader, cameras, clips, retention and cleanup, in order.

    Capture workers and cameras share one detector (and its hot swap on model change).
    """
    from guardian.edge.capture.cleanup import CleanupMaintainer
    from guardian.edge.capture.worker import add_detection_workers

    settings = ctx.settings
    sup = Supervisor()
    if settings.queue.workers > 0 or settings.cameras.enabled:
        detector = add_detection_workers(sup, ctx, settings.queue.workers)
        if settings.cameras.enabled:
            _add_camera_maintainers(sup, ctx, detector)
    if settings.retention.interval_seconds > 0:
        sup.add("cleanup", lambda stop: CleanupMaintainer(ctx, stop))
    _add_link_maintainer(sup, ctx)
    if settings.mqtt.enabled:
        from guardian.edge.mqtt.maintainer import MqttMaintainer

        sup.add("mqtt", lambda stop: MqttMaintainer(ctx, stop))
    if settings.archive.enabled:
        from guardian.edge.archive.maintainer import ArchiveMaintainer

        sup.add("archive", lambda stop: ArchiveMaintainer(ctx, stop))
    return sup


def _add_link_maintainer(sup: Supervisor, ctx: EdgeContext) -> None:
    """The link to the relay, when enabled and the edge has enrolled."""
    from guardian.edge.link.client import LinkMaintainer
    from guardian.edge.link.enroll import is_enrolled

    if not ctx.settings.link.enabled:
        return
    if not is_enrolled(ctx.settings.data_dir):
        logger.info("not enrolled at a relay: the link stays off (guardian edge enroll)")
        return
    sup.add("link", lambda stop: LinkMaintainer(ctx, stop))


def _add_camera_maintainers(sup: Supervisor, ctx: EdgeContext, detector: BatchDetector) -> None:
    from guardian.edge.camera.manager import CameraMaintainer
    from guardian.edge.camera.metrics import watch_cameras
    from guardian.edge.record.clip_maker import ClipMaintainer
    from guardian.edge.record.disk import DiskGuard
    from guardian.edge.record.pruning import RecordingRetentionMaintainer

    cameras = ctx.settings.cameras
    disk = DiskGuard(ctx.settings.media_dir, cameras.critical_free_bytes)
    maintainers: list[CameraMaintainer] = []

    def camera_maintainer(stop: threading.Event) -> CameraMaintainer:
        maintainer = CameraMaintainer(ctx, detector, stop, disk=disk)
        maintainers[:] = [maintainer]
        return maintainer

    sup.add("cameras", camera_maintainer)
    sup.add("clips", lambda stop: ClipMaintainer(ctx, stop))
    sup.add("recording-retention", lambda stop: RecordingRetentionMaintainer(ctx, stop, disk))
    watch_cameras(ctx, lambda: maintainers[0] if maintainers else None, disk)


def serve(settings: EdgeSettings) -> None:
    """Run the edge until SIGINT/SIGTERM: migrate, start workers, serve HTTP, stop cleanly."""
    from guardian.edge.api.ops import ensure_watching
    from guardian.edge.app import create_app
    from guardian.edge.capture.gil import tune_for_ingest

    tune_for_ingest()  # upload threads get the GIL back promptly after each fsync
    ctx = build_context(settings)
    ensure_watching(ctx)
    supervisor = build_supervisor(ctx)
    supervisor.start()
    try:
        config = uvicorn.Config(
            create_app(ctx),
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=10,
        )
        logger.info("edge listening", extra={"host": settings.host, "port": settings.port})
        uvicorn.Server(config).run()
    finally:
        supervisor.stop()
        ctx.engine.dispose()
