"""``guardian control run``: the control plane API under uvicorn, beside the relay link."""

from __future__ import annotations

import asyncio
import gc
import logging
import socket

import grpc
import uvicorn

from guardian.control.config import ControlSettings
from guardian.control.context import ControlContext, build_context

logger = logging.getLogger(__name__)

LINK_GRACE_S = 5.0  # seconds in-flight relay calls get to finish on shutdown


class _Server(uvicorn.Server):
    """Ends the live-update streams first on shutdown: uvicorn waits for open responses
    before it runs the app's shutdown hooks, so endless SSE responses would hold it.

    It stops the gRPC relay link there too: uvicorn re-raises the stop signal when ``run``
    returns, so code after it does not run on SIGTERM.
    """

    def __init__(
        self, config: uvicorn.Config, ctx: ControlContext, link: grpc.Server | None = None
    ) -> None:
        super().__init__(config)
        self._ctx = ctx
        self._link = link

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        from guardian.control.api.stream import end_streams

        await end_streams(self._ctx)
        if self._link is not None:
            await asyncio.to_thread(self._link.stop(LINK_GRACE_S).wait)
        await super().shutdown(sockets)


def settle_heap() -> None:
    """Take the start-up heap out of the garbage collector's way (``gc.freeze``).

    The app, SQLAlchemy's and pydantic's schemas are ~150,000 long-lived objects that a
    full collection would scan again and again: pauses of 50-150 ms that land on whichever
    request is running. Frozen, they are never scanned; garbage made by requests still is.
    """
    gc.collect()
    gc.freeze()


def serve(settings: ControlSettings) -> None:
    """Migrate, serve HTTP and the gRPC relay link until SIGINT/SIGTERM, close the database."""
    from guardian.control.app import create_app
    from guardian.control.link_server import serve_control_link

    ctx = build_context(settings)
    link = serve_control_link(ctx, settings.grpc_port) if settings.grpc_port else None
    try:
        app = create_app(ctx)
        settle_heap()
        config = uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=10,
        )
        logger.info("control plane listening", extra={"host": settings.host, "port": settings.port})
        _Server(config, ctx, link).run()
    finally:
        if link is not None:
            link.stop(LINK_GRACE_S).wait()
        ctx.db.dispose()
