"""Control plane API: ``GET /api/v1/events/stream``, live event updates as Server-Sent Events.

Browsers' ``EventSource`` cannot set headers, so besides ``Authorization: Bearer`` the access
token is also accepted as ``?access_token=``, and the resume point as ``?last_event_id=``
besides the ``Last-Event-ID`` header the browser sends when it reconnects. A token in a URL
may be logged by proxies in front of the API: use short-lived access tokens, and the header
wherever the client can set one. Delivery is at least once, in feed order per connection.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from fastapi.responses import StreamingResponse
from starlette.types import Send

from guardian.common.api_errors import Unauthorized, Unprocessable
from guardian.control.api.deps import VERIFIER, ContextDep, bearer_token
from guardian.control.app import SHUTDOWN, STARTUP, add_hook
from guardian.control.auth.principal import Principal, TokenVerifier
from guardian.control.context import ControlContext
from guardian.control.inventory.live import (
    Change,
    FeedCursor,
    LiveHub,
    latest_feed_id,
    read_changes,
    replay_start,
)

logger = logging.getLogger(__name__)
router = APIRouter(tags=["events"])

HUB = "live_hub"  # ctx.services key of the LiveHub
RETRY_MS = 3000  # how long a browser waits before reconnecting
SEND_TIMEOUT_S = 30.0  # a client that accepts no bytes for this long is disconnected
_CHALLENGE = {"WWW-Authenticate": "Bearer"}
_EXAMPLE = (
    "retry: 3000\n\n"
    'id: 42\nevent: event\ndata: {"id": "5f0c…", "type": "interaction_detected", '
    '"change": "created", …}\n\n'
    ": keep-alive\n\n"
)


def format_change(change: Change) -> str:
    """One SSE message: ``id`` is the feed id, ``data`` the event JSON with ``change``."""
    data = json.dumps(change.event, separators=(",", ":"), ensure_ascii=False)
    return f"id: {change.feed_id}\nevent: event\ndata: {data}\n\n"


def stream_principal(
    request: Request,
    ctx: ContextDep,
    access_token: Annotated[
        str | None,
        Query(description="Access token, for clients (EventSource) that cannot set headers."),
    ] = None,
) -> Principal:
    """The caller, from ``Authorization: Bearer`` or else ``?access_token=``."""
    verifier: TokenVerifier | None = ctx.services.get(VERIFIER)
    if verifier is None:
        raise Unauthorized("no token verifier is configured", headers=_CHALLENGE)
    if "authorization" in request.headers or not access_token:
        token = bearer_token(request)
    else:
        token = access_token
    principal = verifier.verify(token)
    request.state.principal = principal
    return principal


def _resume_from(header: str | None, query: int | None) -> int | None:
    if header is not None and header.strip():
        try:
            value = int(header.strip())
        except ValueError:
            value = -1
        if value < 0:
            raise Unprocessable("Last-Event-ID must be a non-negative integer")
        return value
    return query


class EventStreamResponse(StreamingResponse):
    """A streaming response that drops a client which stops reading (it resumes later)."""

    media_type = "text/event-stream"

    async def stream_response(self, send: Send) -> None:
        start = {"type": "http.response.start", "status": self.status_code}
        await send({**start, "headers": self.raw_headers})
        async for chunk in self.body_iterator:
            body = chunk.encode() if isinstance(chunk, str) else bytes(chunk)
            message = {"type": "http.response.body", "body": body, "more_body": True}
            try:
                await asyncio.wait_for(send(message), SEND_TIMEOUT_S)
            except TimeoutError:
                # Returning without finishing the response makes the server close it.
                logger.warning("live stream client too slow, disconnecting it")
                return
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _messages(
    ctx: ControlContext, hub: LiveHub, tenant_id: str, cursor: FeedCursor
) -> AsyncIterator[str]:
    sub = hub.subscribe(tenant_id)

    def read() -> list[Change]:
        with ctx.db.tenant(tenant_id) as session:
            return read_changes(session, tenant_id, cursor)

    try:
        yield f"retry: {RETRY_MS}\n\n"
        last_write = time.monotonic()
        while not hub.closed:
            changes = await anyio.to_thread.run_sync(read)
            for change in changes:
                yield format_change(change)
            if changes:
                last_write = time.monotonic()
                continue  # there may be more
            idle = time.monotonic() - last_write
            woke = await sub.wait(max(0.0, hub.heartbeat_s - idle))
            if not woke and not hub.closed:
                yield ": keep-alive\n\n"
                last_write = time.monotonic()
    finally:
        hub.unsubscribe(sub)


@router.get(
    "/api/v1/events/stream",
    response_class=EventStreamResponse,
    summary="Live event updates (Server-Sent Events)",
    responses={
        200: {
            "description": "An endless `text/event-stream`: one `event` message per new or "
            "updated event of the caller's tenant (`id` is the feed id to resume from, "
            "`data` the event as `GET /api/v1/events/{id}` shows it plus `change`: "
            "created | updated | note) and a `: keep-alive` comment every 15 s when idle.",
            "content": {"text/event-stream": {"example": _EXAMPLE}},
        },
        401: {"description": "Missing or invalid access token."},
        422: {"description": "Invalid `Last-Event-ID`."},
    },
)
async def stream_events(
    ctx: ContextDep,
    principal: Annotated[Principal, Depends(stream_principal)],
    last_event_id_header: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID",
            description="Resume after this feed id: missed changes (the newest 1000) are "
            "replayed first.",
        ),
    ] = None,
    last_event_id: Annotated[
        int | None, Query(ge=0, description="Same as the `Last-Event-ID` header.")
    ] = None,
) -> EventStreamResponse:
    """Push new and updated events of the caller's tenant as they happen (any role).

    Without a resume point the stream starts with changes made after the connection.
    """
    hub: LiveHub = ctx.services[HUB]
    tenant_id = principal.tenant_id
    resume = _resume_from(last_event_id_header, last_event_id)

    def start() -> int:
        with ctx.db.tenant(tenant_id) as session:
            if resume is None:
                return latest_feed_id(session, tenant_id)
            return replay_start(session, tenant_id, resume)

    cursor = FeedCursor(horizon=await anyio.to_thread.run_sync(start))
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return EventStreamResponse(_messages(ctx, hub, tenant_id, cursor), headers=headers)


async def end_streams(ctx: ControlContext) -> None:
    """Finish every open stream now (clients reconnect elsewhere with ``Last-Event-ID``).

    Servers wait for open responses before the app's shutdown hooks run, so a server
    should call this when it starts shutting down; it is idempotent.
    """
    hub: LiveHub | None = ctx.services.get(HUB)
    if hub is not None:
        await hub.stop()


def install(app: FastAPI, ctx: ControlContext) -> None:
    """Create the app's live-update hub, started and stopped with the app."""
    if HUB in ctx.services:
        return  # another app on the same context already registered the hub's hooks
    hub = LiveHub(ctx.db)
    ctx.services[HUB] = hub
    add_hook(ctx, STARTUP, hub.start)
    add_hook(ctx, SHUTDOWN, hub.stop)
