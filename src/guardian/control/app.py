"""The control plane's FastAPI application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp

from guardian import __version__
from guardian.common.api_errors import ApiError
from guardian.control.context import ControlContext

logger = logging.getLogger(__name__)
Hook = Callable[[], Awaitable[None]]
Front = Callable[[ASGIApp], ASGIApp]
STARTUP, SHUTDOWN = "on_startup", "on_shutdown"


class ControlApp(FastAPI):
    """FastAPI with ``fronts``: layers outside its whole middleware stack, for a hot path
    that answers a request by itself and hands every other one to the stack. A front does
    what the stack's layers would have done for the requests it answers.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fronts: list[Front] = []  # the first wraps the stack, the last runs first

    def build_middleware_stack(self) -> ASGIApp:
        app = super().build_middleware_stack()
        for front in self.fronts:
            app = front(app)
        return app


def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [
        {"field": ".".join(str(p) for p in err.get("loc", ())[1:]), "message": err.get("msg")}
        for err in exc.errors()
    ]
    summary = "; ".join(f"{p['field'] or 'request'}: {p['message']}" for p in problems)
    body = {"error": {"code": "invalid_request", "message": summary, "fields": problems}}
    return JSONResponse(body, status_code=422)


def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own errors (unknown path, wrong method, unparsable body) in our shape."""
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    if status == 400:  # FastAPI's "error parsing the body": the body is invalid input
        status = 422
    codes = {404: "not_found", 405: "method_not_allowed", 422: "invalid_request"}
    message = exc.detail if isinstance(exc.detail, str) else "request failed"
    body = {"error": {"code": codes.get(status, "http_error"), "message": message}}
    return JSONResponse(body, status_code=status, headers=dict(exc.headers or {}))


def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    logger.error("unhandled error", exc_info=exc)
    body = {"error": {"code": "internal_error", "message": "internal error"}}
    return JSONResponse(body, status_code=500)


def add_hook(ctx: ControlContext, when: str, hook: Hook) -> None:
    """Run ``hook`` at app startup (``STARTUP``) or shutdown (``SHUTDOWN``)."""
    ctx.services.setdefault(when, []).append(hook)


def create_app(ctx: ControlContext) -> ControlApp:
    """The control plane API bound to ``ctx``."""
    from guardian.control import web
    from guardian.control.api import (
        auth,
        cameras,
        events,
        ingest,
        middleware,
        notes,
        ops,
        plan,
        playback,
        relays,
        sites,
        stream,
        users,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        for hook in ctx.services.get(STARTUP, []):
            await hook()
        try:
            yield
        finally:
            for hook in reversed(ctx.services.get(SHUTDOWN, [])):
                await hook()

    app = ControlApp(
        title="Guardian control plane",
        version=__version__,
        description="Multi-tenant control plane: tenants, users, sites, relays, cameras and "
        "the event inventory with operator notes and live updates. It stores summaries "
        "only: never images, clips, bounding boxes or raw scores.",
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
    # Order matters for path matching: fixed paths (/events/summary, /events/stream)
    # before /events/{id}.
    features = (
        ops,
        auth,
        users,
        sites,
        relays,
        cameras,
        plan,
        stream,
        notes,
        playback,
        events,
        ingest,
    )
    for feature in features:
        feature.install(app, ctx)
        app.include_router(feature.router)
    web.install(app, ctx)  # the UI's pages and static files (no /api paths)
    middleware.install(app, ctx)
    return app
