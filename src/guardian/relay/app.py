"""The relay's HTTP API: cached event detail for the relay admin, health, metrics and media."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import select

from guardian.relay import cameras
from guardian.relay.context import RelayContext
from guardian.relay.media import routes as media
from guardian.relay.media.cache import MediaCacheCleanup
from guardian.relay.store.cache import EventFilters, list_events
from guardian.relay.store.cursor import InvalidCursor
from guardian.relay.store.queue import queue_depth
from guardian.relay.store.tables import CachedEvent

_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def _event(row: CachedEvent | Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "tenant_id": row.tenant_id,
        "site_id": row.site_id,
        "version": row.version,
        "received_at": row.received_at.isoformat(),
        "expires_at": row.expires_at.isoformat(),
        "event": row.payload,
    }


def create_app(ctx: RelayContext) -> FastAPI:
    """The relay's FastAPI app over ``ctx``."""
    stop_cleanup = threading.Event()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if service.cache.enabled:
            MediaCacheCleanup(service.cache, stop_cleanup).start()
        try:
            yield
        finally:
            stop_cleanup.set()

    app = FastAPI(title="Guardian relay", docs_url=None, redoc_url=None, lifespan=lifespan)
    service = media.install(app, ctx)
    app.state.media = service

    def admin(request: Request) -> None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token or not ctx.admin_tokens.verify(token):
            raise HTTPException(401, "a relay admin token is required", headers=_CHALLENGE)

    guarded = [Depends(admin)]
    cameras.install(app, ctx, guarded)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics")
    def metrics() -> Response:
        with ctx.sessions() as session:
            ctx.metrics.forward_queue_depth.set(queue_depth(session).count)
        return Response(generate_latest(ctx.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/v1/events", dependencies=guarded)
    def events(
        tenant_id: str,
        site_id: str | None = None,
        source_kind: str | None = None,
        source_name: str | None = None,
        type: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        filters = EventFilters(site_id, source_kind, source_name, type, since, until, limit)
        with ctx.sessions() as session:
            try:
                page = list_events(session, tenant_id, filters, cursor, now=ctx.clock())
            except InvalidCursor as exc:
                raise HTTPException(400, str(exc)) from exc
        return {"items": [_event(item) for item in page.items], "next_cursor": page.next_cursor}

    @app.get("/v1/events/{event_id}", dependencies=guarded)
    def event(event_id: str) -> dict[str, Any]:
        with ctx.sessions() as session:
            row = session.scalar(
                select(CachedEvent).where(
                    CachedEvent.id == event_id, CachedEvent.expires_at > ctx.clock()
                )
            )
            if row is None:
                raise HTTPException(404, "no such cached event")
            return _event(row)

    return app
