"""``guardian control run``: the control plane API under uvicorn."""

from __future__ import annotations

import logging

import uvicorn

from guardian.control.config import ControlSettings
from guardian.control.context import build_context

logger = logging.getLogger(__name__)


def serve(settings: ControlSettings) -> None:
    """Migrate, serve HTTP until SIGINT/SIGTERM, close the database."""
    from guardian.control.app import create_app

    ctx = build_context(settings)
    try:
        config = uvicorn.Config(
            create_app(ctx),
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=10,
        )
        logger.info("control plane listening", extra={"host": settings.host, "port": settings.port})
        uvicorn.Server(config).run()
    finally:
        ctx.db.engine.dispose()
