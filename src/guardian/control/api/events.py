"""Control plane API: the event timeline, one event, and summaries (any role of the tenant).

Free-text ``q`` matches type, label, zone, camera/device names and note texts: on
PostgreSQL ``search_text ILIKE '%q%'`` served by the pg_trgm GIN index (for ``q`` of three
characters or more), on SQLite a ``LIKE`` scan over the tenant's events (the documented
fallback).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import time
from typing import Annotated, Any, NamedTuple
from urllib.parse import parse_qsl

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from prometheus_client import Histogram
from pydantic import AwareDatetime, TypeAdapter
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Receive, Scope, Send

from guardian.common.api_errors import BadRequest
from guardian.control.api.deps import (
    VERIFIER,
    ContextDep,
    PrincipalDep,
    TenantSessionDep,
    refresh_in_background,
)
from guardian.control.api.middleware import (
    HTTP_METRICS,
    RATE_LIMITS,
    RATE_WAIT,
    REQUEST_ID_HEADER,
    RateLimits,
    bearer_of,
    client_address,
    finish_headers,
    observed,
    request_id_of,
    request_id_var,
    security_headers,
)
from guardian.control.app import SHUTDOWN, STARTUP, ControlApp, add_hook
from guardian.control.auth.principal import TokenVerifier
from guardian.control.context import ControlContext
from guardian.control.db import Database
from guardian.control.inventory.cursor import decode_cursor
from guardian.control.inventory.queries import (
    EventFilter,
    event_detail,
    page_json,
    page_rows,
    rows_page,
    summarize,
    timeline_statement,
)
from guardian.control.inventory.retention import EventRetentionCleanup
from guardian.control.inventory.schemas import EventDetailOut, EventPage, EventSummaryOut
from guardian.control.inventory.search import MAX_QUERY_CHARS

logger = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1/events", tags=["events"])
TIMELINE_PATH = "/api/v1/events"
RETENTION_SERVICE = "inventory.retention"
FAST_PATH = "events.fast_path"  # ctx.services key of the TimelineFastPath
DEFAULT_LIMIT, MAX_LIMIT = 50, 200

_ERRORS: dict[int | str, dict[str, str]] = {
    401: {"description": "Missing or invalid access token"},
    422: {"description": "Invalid parameters"},
}
CameraQ = Annotated[str | None, Query(max_length=36, description="Camera id.")]
SiteQ = Annotated[str | None, Query(max_length=36, description="Site id.")]
SinceQ = Annotated[
    AwareDatetime | None, Query(description="RFC 3339; events that started at or after it.")
]
UntilQ = Annotated[AwareDatetime | None, Query(description="RFC 3339; events started before it.")]
TypeQ = Annotated[str | None, Query(max_length=64, examples=["interaction_detected"])]
HasNotesQ = Annotated[bool | None, Query(description="Only events with/without notes.")]
TextQ = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=MAX_QUERY_CHARS,
        description="Free text: labels, camera names, notes.",
    ),
]
LimitQ = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
CursorQ = Annotated[str | None, Query(description="`next_cursor` of the previous page.")]


@router.get(
    "",
    response_model=EventPage,
    summary="List events, newest first",
    description="Keyset pages on (started_at, id): pass `next_cursor` as `cursor` for the "
    "next, older page. Events arriving meanwhile are neither skipped nor repeated.",
    responses={**_ERRORS, 400: {"description": "Invalid cursor"}},
)
async def get_events(
    ctx: ContextDep,
    principal: PrincipalDep,
    camera: CameraQ = None,
    site: SiteQ = None,
    type: TypeQ = None,
    since: SinceQ = None,
    until: UntilQ = None,
    has_notes: HasNotesQ = None,
    q: TextQ = None,
    limit: LimitQ = DEFAULT_LIMIT,
    cursor: CursorQ = None,
) -> Response:
    # The hot path of the API (see also TimelineFastPath): orjson writes the JSON from
    # plain rows, the same bytes the EventPage model would give.
    after = None
    if cursor is not None:
        try:
            after = decode_cursor(cursor)
        except ValueError as exc:
            raise BadRequest(f"invalid cursor: {exc}") from exc
    filters = EventFilter(camera, site, type, since, until, has_notes, q)
    body = await timeline_json(ctx.db, principal.tenant_id, filters, limit, after)
    return Response(body, media_type="application/json")


async def timeline_json(
    db: Database,
    tenant_id: str,
    filters: EventFilter,
    limit: int,
    after: tuple[dt.datetime, str] | None,
) -> bytes:
    """The body of a timeline page (``EventPage`` JSON, written by orjson from rows).

    On PostgreSQL without free text the read is asyncio (``AsyncTenantReads``: one round
    trip, no worker thread); otherwise a worker thread reads through a tenant connection.
    """
    if db.reads is not None and filters.q is None:
        dialect = db.engine.dialect
        sql, params = timeline_statement(dialect, tenant_id, filters, limit=limit, after=after)
        return page_json(rows_page(await db.reads.rows(tenant_id, sql, params), limit))
    return await run_in_threadpool(_timeline_json, db, tenant_id, filters, limit, after)


def _timeline_json(
    db: Database,
    tenant_id: str,
    filters: EventFilter,
    limit: int,
    after: tuple[dt.datetime, str] | None,
) -> bytes:
    with db.tenant_connection(tenant_id) as conn:
        if filters.q is not None and db.postgres:
            # Trigram search runs in the owner's session (see page_rows): RLS would keep
            # PostgreSQL from using the index for the non-LEAKPROOF ILIKE.
            with db.system() as lookup:
                page = page_rows(conn, tenant_id, filters, limit=limit, after=after, lookup=lookup)
        else:
            page = page_rows(conn, tenant_id, filters, limit=limit, after=after)
    return page_json(page)


@router.get(
    "/summary",
    response_model=EventSummaryOut,
    summary="Event counts by type, by UTC day and by camera/device",
    responses=_ERRORS,
)
def get_summary(
    principal: PrincipalDep,
    session: TenantSessionDep,
    since: SinceQ = None,
    until: UntilQ = None,
    site: SiteQ = None,
    camera: CameraQ = None,
) -> EventSummaryOut:
    filters = EventFilter(camera_id=camera, site_id=site, since=since, until=until)
    return summarize(session, principal.tenant_id, filters)


@router.get(
    "/{event_id}",
    response_model=EventDetailOut,
    summary="One event with its notes and archive",
    responses={**_ERRORS, 404: {"description": "No such event in your tenant"}},
)
def get_event(
    event_id: Annotated[str, Path(max_length=36)],
    principal: PrincipalDep,
    session: TenantSessionDep,
) -> EventDetailOut:
    return event_detail(session, principal.tenant_id, event_id)


# Query parameters of the timeline as the route declares them, for TimelineFastPath.
_FAST_PARAMS: dict[str, TypeAdapter[Any]] = {
    "camera": TypeAdapter(CameraQ),
    "site": TypeAdapter(SiteQ),
    "type": TypeAdapter(TypeQ),
    "since": TypeAdapter(SinceQ),
    "until": TypeAdapter(UntilQ),
    "has_notes": TypeAdapter(HasNotesQ),
    "limit": TypeAdapter(LimitQ),
    "cursor": TypeAdapter(CursorQ),
}


def fast_arguments(
    query_string: bytes,
) -> tuple[EventFilter, int, tuple[dt.datetime, str] | None] | None:
    """The timeline's filter, limit and position from a query string, validated with the
    route's own parameter types; None for anything the route should judge itself (free
    text, a repeated or empty parameter, an invalid value or cursor).
    """
    values: dict[str, str] = {}
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if name == "q" or (name in _FAST_PARAMS and (name in values or not value)):
            return None
        if name in _FAST_PARAMS:
            values[name] = value
    try:
        got = {name: _FAST_PARAMS[name].validate_python(value) for name, value in values.items()}
        after = decode_cursor(got["cursor"]) if "cursor" in got else None
    except ValueError:  # pydantic's ValidationError and InvalidCursor are ValueErrors
        return None
    keys = ("camera", "site", "type", "since", "until", "has_notes")
    filters = EventFilter(*(got.get(key) for key in keys))
    return filters, got.get("limit", DEFAULT_LIMIT), after


class TimelineFastPath:
    """``GET /api/v1/events`` answered in front of the whole ASGI stack, for a plainly valid
    request whose token this process verified moments ago (the timeline is the API's
    hottest call: a client pages and polls it with one token).

    It does itself what the stack's layers do for such a request, with their own pieces:
    the rate limits (a refused request goes on to the stack, which answers 429 on this
    decision), the request id, security headers and ``Cache-Control``, the latency metric
    and the access log line. The body is the route's, byte for byte.

    Everything else goes to the stack and the route, which answer as always: a token not
    in the verifier's cache (verified there, then cached), free text, anything
    ``fast_arguments`` does not accept, a cross-origin request (CORS is the stack's),
    SQLite, and any error while reading (the route reads again and reports it).
    """

    def __init__(self, app: ASGIApp, ctx: ControlContext) -> None:
        self.app = app
        self.ctx = ctx
        self.limits: RateLimits = ctx.services[RATE_LIMITS]
        self.histogram: Histogram = ctx.services[HTTP_METRICS]
        self.served = 0  # requests answered here (tests, debugging)
        # What the security-headers layer adds to a timeline answer, by scheme (https).
        self._headers = {https: _fixed_headers(https) for https in (False, True)}
        ctx.services[FAST_PATH] = self

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != TIMELINE_PATH or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        headers = Headers(scope=scope)
        plan = self._plan(headers, scope["query_string"])
        if plan is None:
            await self.app(scope, receive, send)
            return
        wait = self.limits.check("GET", TIMELINE_PATH, client_address(scope), plan.token)
        if wait:
            scope[RATE_WAIT] = wait  # the stack's rate-limit layer answers 429
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(headers)
        scope.setdefault("state", {})["request_id"] = request_id
        reset = request_id_var.set(request_id)
        try:
            refresh_in_background(plan.verifier, plan.token)
            try:
                body = await timeline_json(
                    self.ctx.db, plan.tenant_id, plan.filters, plan.limit, plan.after
                )
            except Exception as exc:
                logger.warning("timeline fast path: %s; the route answers", type(exc).__name__)
                scope[RATE_WAIT] = 0.0  # counted above
                await self.app(scope, receive, send)
                return
            response_headers = [
                (b"content-length", str(len(body)).encode()),
                (b"content-type", b"application/json"),
                *self._headers[scope.get("scheme") == "https"],
                (_REQUEST_ID_KEY, request_id.encode()),
            ]
            await send({"type": "http.response.start", "status": 200, "headers": response_headers})
            await send({"type": "http.response.body", "body": body})
            self.served += 1
            observed(self.histogram, "GET", TIMELINE_PATH, 200, time.perf_counter() - start)
        finally:
            request_id_var.reset(reset)

    def _plan(self, headers: Headers, query_string: bytes) -> _Page | None:
        """The page to answer when this layer can answer it; None to leave the request to
        the stack. Takes nothing (no rate-limit token).
        """
        verifier: TokenVerifier | None = self.ctx.services.get(VERIFIER)
        token = bearer_of(headers)
        if self.ctx.db.reads is None or verifier is None or token is None or "origin" in headers:
            return None
        principal = verifier.cached(token)
        if principal is None:
            return None
        arguments = fast_arguments(query_string)
        if arguments is None:
            return None
        return _Page(token, verifier, principal.tenant_id, *arguments)


class _Page(NamedTuple):
    """A timeline request ``TimelineFastPath`` can answer: its token and what it asks for."""

    token: str
    verifier: TokenVerifier
    tenant_id: str
    filters: EventFilter
    limit: int
    after: tuple[dt.datetime, str] | None


_REQUEST_ID_KEY = REQUEST_ID_HEADER.lower().encode()


def _fixed_headers(https: bool) -> list[tuple[bytes, bytes]]:
    """The headers ``SecurityHeadersMiddleware`` adds to a timeline answer."""
    headers = MutableHeaders(raw=[])
    finish_headers(headers, TIMELINE_PATH, security_headers(TIMELINE_PATH, https))
    return list(headers.raw)


def install(app: ControlApp, ctx: ControlContext) -> None:
    """Serve the timeline's fast path; start the event retention cleanup with the app and
    close the timeline's connections when it stops (once per context).
    """
    app.fronts.append(functools.partial(TimelineFastPath, ctx=ctx))  # outside the stack
    if RETENTION_SERVICE in ctx.services:
        return
    cleanup = EventRetentionCleanup(ctx.db)
    ctx.services[RETENTION_SERVICE] = cleanup
    add_hook(ctx, STARTUP, cleanup.start)
    add_hook(ctx, SHUTDOWN, cleanup.stop)
    if ctx.db.reads is not None:
        add_hook(ctx, SHUTDOWN, ctx.db.reads.aclose)
