"""``guardian edge run``: the HTTP API plus the in-process workers, under one supervisor."""

from __future__ import annotations

import logging

import uvicorn

from guardian.common.supervise import Supervisor, WorkerFactory
from guardian.edge.config import EdgeSettings
from guardian.edge.context import EdgeContext, build_context

logger = logging.getLogger(__name__)


def build_supervisor(ctx: EdgeContext) -> Supervisor:
    """Capture workers, the cleanup job and the model reloader, in start order."""
    from guardian.edge.capture.cleanup import CleanupMaintainer
    from guardian.edge.capture.worker import CaptureWorker, worker_name
    from guardian.edge.detect.loader import load_detector, model_fingerprint
    from guardian.edge.detect.reload import HotSwapDetector, ModelReloadMaintainer

    settings = ctx.settings
    sup = Supervisor()
    if settings.queue.workers > 0:
        detector = HotSwapDetector(load_detector(settings.detector))

        def capture_worker(index: int) -> WorkerFactory:
            return lambda stop: CaptureWorker(ctx, detector, stop, worker_name(index))

        for i in range(settings.queue.workers):
            sup.add(f"capture-worker-{i}", capture_worker(i))
        if settings.detector.reload_poll_seconds > 0:
            sup.add(
                "model-reload",
                lambda stop: ModelReloadMaintainer(
                    detector,
                    lambda: load_detector(settings.detector),
                    lambda: model_fingerprint(settings.detector),
                    stop,
                    settings.detector.reload_poll_seconds,
                ),
            )
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
