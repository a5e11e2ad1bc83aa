"""``guardian edge run``: the HTTP API plus the in-process workers, under one supervisor."""

from __future__ import annotations

import logging

import uvicorn

from guardian.common.supervise import Supervisor
from guardian.edge.config import EdgeSettings
from guardian.edge.context import EdgeContext, build_context

logger = logging.getLogger(__name__)


def build_supervisor(ctx: EdgeContext) -> Supervisor:
    """Capture workers, the model reloader and the cleanup job, in start order."""
    from guardian.edge.capture.cleanup import CleanupMaintainer
    from guardian.edge.capture.worker import add_detection_workers

    settings = ctx.settings
    sup = Supervisor()
    if settings.queue.workers > 0:
        add_detection_workers(sup, ctx, settings.queue.workers)
    if settings.retention.interval_seconds > 0:
        sup.add("cleanup", lambda stop: CleanupMaintainer(ctx, stop))
    return sup


def serve(settings: EdgeSettings) -> None:
    """Run the edge until SIGINT/SIGTERM: migrate, start workers, serve HTTP, stop cleanly."""
    from guardian.edge.api.ops import ensure_watching
    from guardian.edge.app import create_app

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
