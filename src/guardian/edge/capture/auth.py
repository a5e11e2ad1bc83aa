"""FastAPI dependency authenticating a device request: capped body, HMAC check, rate limit."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.types import Message

from guardian.contracts import device_auth
from guardian.edge.api.deps import ContextDep
from guardian.edge.capture.ingest import count_ingest
from guardian.edge.capture.ratelimit import RateLimiter, retry_after_header
from guardian.edge.context import EdgeContext
from guardian.edge.errors import PayloadTooLarge, TooManyRequests, Unauthorized
from guardian.edge.store.devices import device_key, is_valid_device_id

logger = logging.getLogger(__name__)

# Room for the multipart framing and small fields around an image of ``max_bytes``.
BODY_OVERHEAD_BYTES = 64 * 1024
_CHALLENGE = {"WWW-Authenticate": 'Guardian-HMAC realm="guardian-edge"'}
_LIMITER_STATE = "capture_rate_limiter"


@dataclass(frozen=True)
class DeviceRequest:
    """An authenticated device request and its raw body (already read, within the cap)."""

    device_id: str
    body: bytes
    body_sha256: str
    request: Request

    def replay(self) -> Request:
        """A request over the same scope whose body is the bytes read here (parse it again)."""
        sent = False

        async def receive() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": self.body, "more_body": False}
            return await self.request.receive()  # later reads wait for the disconnect

        return Request(self.request.scope, receive)


def body_limit(ctx: EdgeContext) -> int:
    """Largest request body read: the image limit plus room for the multipart framing."""
    return ctx.settings.capture.max_bytes + BODY_OVERHEAD_BYTES


def rate_limiter(app: FastAPI, ctx: EdgeContext) -> RateLimiter:
    """The app's per-device limiter, made on first use from the capture settings."""
    limiter = getattr(app.state, _LIMITER_STATE, None)
    if limiter is None:
        # Only the event loop thread runs this, so there is no creation race.
        limiter = RateLimiter(ctx.settings.capture.rate_per_second, ctx.settings.capture.rate_burst)
        setattr(app.state, _LIMITER_STATE, limiter)
    assert isinstance(limiter, RateLimiter)
    return limiter


def _too_large(ctx: EdgeContext, limit: int) -> PayloadTooLarge:
    count_ingest(ctx, "too_large")
    return PayloadTooLarge(
        f"request body is larger than {limit} bytes "
        f"(images up to {ctx.settings.capture.max_bytes} bytes)",
        max_bytes=ctx.settings.capture.max_bytes,
    )


def _unauthorized(ctx: EdgeContext, device_id: str, reason: str) -> Unauthorized:
    count_ingest(ctx, "unauthorized")
    # The reason names what failed, never a key or signature value.
    logger.warning("device request refused", extra={"device_id": device_id, "reason": reason})
    return Unauthorized(reason, headers=dict(_CHALLENGE))


async def read_body_capped(request: Request, ctx: EdgeContext) -> bytes:
    """The raw body, refusing (413) by ``Content-Length`` first and while streaming too."""
    limit = body_limit(ctx)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(ctx, limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:  # chunked, or a Content-Length that lied
            raise _too_large(ctx, limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def authenticate_device(request: Request, ctx: ContextDep) -> DeviceRequest:
    """Authenticate a signed device request (401), cap its body (413), rate-limit it (429)."""
    headers = request.headers
    device_id = headers.get(device_auth.HEADER_DEVICE, "")
    timestamp = headers.get(device_auth.HEADER_TIMESTAMP, "")
    signature = headers.get(device_auth.HEADER_SIGNATURE, "")
    missing = [
        name
        for name, value in (
            (device_auth.HEADER_DEVICE, device_id),
            (device_auth.HEADER_TIMESTAMP, timestamp),
            (device_auth.HEADER_SIGNATURE, signature),
        )
        if not value
    ]
    if missing:
        raise _unauthorized(ctx, device_id, f"missing header(s): {', '.join(missing)}")

    body = await read_body_capped(request, ctx)
    body_sha256 = hashlib.sha256(body).hexdigest()

    key = None
    if is_valid_device_id(device_id):
        key = await run_in_threadpool(_load_key, ctx, device_id)
    if key is None:
        raise _unauthorized(ctx, device_id, "unknown or revoked device")
    problem = device_auth.verify(
        key, request.method, request.url.path, timestamp, body_sha256, signature, ctx.clock()
    )
    if problem is not None:
        raise _unauthorized(ctx, device_id, problem)

    wait = rate_limiter(request.app, ctx).acquire(device_id)
    if wait > 0:
        count_ingest(ctx, "rate_limited")
        raise TooManyRequests(
            f"device {device_id!r} is over its rate limit "
            f"({ctx.settings.capture.rate_per_second:g}/s, burst "
            f"{ctx.settings.capture.rate_burst}); retry in {wait:.2f} s",
            headers={"Retry-After": retry_after_header(wait)},
            retry_after_seconds=round(wait, 3),
        )
    return DeviceRequest(device_id, body, body_sha256, request)


def _load_key(ctx: EdgeContext, device_id: str) -> str | None:
    with ctx.sessions() as session:
        return device_key(session, ctx.sealer, device_id)


DeviceRequestDep = Annotated[DeviceRequest, Depends(authenticate_device)]
