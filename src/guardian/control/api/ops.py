"""Control plane operations endpoints (no auth): ``/healthz`` and ``/metrics``."""

from __future__ import annotations

import logging
from typing import Literal

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from guardian.control.api.deps import ContextDep
from guardian.control.context import ControlContext

logger = logging.getLogger(__name__)

router = APIRouter(tags=["ops"])


class Health(BaseModel):
    """Whether the service and its database answer."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "ok", "database": "ok"}]})

    status: Literal["ok", "unavailable"] = Field(description="Overall state.")
    database: Literal["ok", "unreachable"] = Field(description="Result of a trivial query.")


@router.get(
    "/healthz",
    response_model=Health,
    responses={
        503: {
            "model": Health,
            "description": "The database is unreachable.",
            "content": {
                "application/json": {
                    "example": {"status": "unavailable", "database": "unreachable"}
                }
            },
        }
    },
)
def healthz(ctx: ContextDep) -> Health | JSONResponse:
    """``ok`` once a trivial query succeeds; 503 when the database is unreachable."""
    try:
        with ctx.db.system() as session:
            session.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        # The exception text names the host, never the password (URLs are redacted too).
        logger.warning("health check: database unreachable", extra={"error": type(exc).__name__})
        body = Health(status="unavailable", database="unreachable")
        return JSONResponse(body.model_dump(), status_code=503)
    return Health(status="ok", database="ok")


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}},
            "description": "Prometheus text exposition format.",
        }
    },
)
def metrics(ctx: ContextDep) -> Response:
    """Prometheus metrics of this process (request latencies by route and status, ...)."""
    return Response(generate_latest(ctx.registry), media_type=CONTENT_TYPE_LATEST)


def install(app: FastAPI, ctx: ControlContext) -> None:
    """Nothing to attach: the routes only read ``ctx``."""
