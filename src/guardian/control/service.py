"""``guardian control run``: the control plane API under uvicorn."""

from __future__ import annotations

import logging
import socket

import uvicorn

from guardian.control.config import ControlSettings
from guardian.control.context import ControlContext, build_context

logger = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    """Ends the live-update streams first on shutdown: uvicorn waits for open responses
    before it runs the app's shutdown hooks, so endless SSE responses would hold it."""

    def __init__(self, config: uvicorn.Config, ctx: ControlContext) -> None:
        super().__init__(config)
        self._ctx = ctx

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        from guardian.control.api.stream import end_streams

        await end_streams(self._ctx)
        await super().shutdown(sockets)


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
        _Server(config, ctx).run()
    finally:
        ctx.db.engine.dispose()
