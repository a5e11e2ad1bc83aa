"""Operations endpoints (no auth): ``/healthz`` with a database check, ``/metrics``."""

from __future__ import annotations

import logging
import threading
import weakref

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from guardian.edge.api.deps import ContextDep
from guardian.edge.api.schemas import Health
from guardian.edge.context import EdgeContext
from guardian.edge.store.queue import depth

logger = logging.getLogger(__name__)

router = APIRouter(tags=["ops"])

_watched: weakref.WeakSet[CollectorRegistry] = weakref.WeakSet()
_watch_lock = threading.Lock()


def ensure_watching(ctx: EdgeContext) -> None:
    """Register the disk-free and queue-depth gauges on ``ctx``'s registry, exactly once.

    Safe to call from every scrape and from startup: a second registration would make
    ``prometheus_client`` refuse the duplicate series.
    """

    def queue_depth() -> dict[str, int]:
        with ctx.sessions() as session:
            return depth(session)

    registry = ctx.metrics.registry
    with _watch_lock:
        if registry not in _watched:
            ctx.metrics.watch(ctx.settings.media_dir, queue_depth)
            _watched.add(registry)


@router.get(
    "/healthz",
    response_model=Health,
    responses={503: {"model": Health, "description": "The database is unreachable."}},
)
def healthz(ctx: ContextDep) -> Health | JSONResponse:
    """Liveness: ``ok`` once a trivial query succeeds, 503 when the database is unreachable."""
    try:
        with ctx.sessions() as session:
            session.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        logger.warning("health check: database unreachable", extra={"error": str(exc)})
        body = Health(status="unavailable", database="unreachable")
        return JSONResponse(body.model_dump(), status_code=503)
    return Health(status="ok", database="ok")


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={
        200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text format."},
        503: {"description": "The database is unreachable (queue depth cannot be read)."},
    },
)
def metrics(ctx: ContextDep) -> Response:
    """Prometheus metrics: ingest results, queue depth, job durations, disk free, cleanup."""
    ensure_watching(ctx)
    try:
        body = generate_latest(ctx.metrics.registry)
    except SQLAlchemyError as exc:
        # A scrape failure Prometheus records as such beats gauges that read 0.
        logger.warning("metrics: database unreachable", extra={"error": str(exc)})
        return PlainTextResponse("database unreachable\n", status_code=503)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
