"""The edge's FastAPI application factory."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from guardian import __version__
from guardian.edge.context import EdgeContext
from guardian.edge.errors import EdgeError


def _edge_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, EdgeError)
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


def create_app(ctx: EdgeContext) -> FastAPI:
    """The edge API bound to ``ctx`` (store, settings, metrics, clock)."""
    from guardian.edge.api import cameras, ops, read
    from guardian.edge.capture import routes as capture_routes

    app = FastAPI(
        title="Guardian edge",
        version=__version__,
        description="Local API of the Guardian edge appliance: device capture ingest and "
        "the operator's read API.",
    )
    app.state.ctx = ctx
    app.add_exception_handler(EdgeError, _edge_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.include_router(capture_routes.router)
    app.include_router(read.router)
    app.include_router(cameras.router)
    app.include_router(ops.router)
    return app
