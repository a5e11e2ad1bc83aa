"""Authenticating a device request: capped body, HMAC signature check, per-device rate limit."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from fastapi import FastAPI, Request

from guardian.contracts import device_auth
from guardian.edge.capture.ingest import count_ingest
from guardian.edge.capture.ratelimit import RateLimiter, retry_after_header
from guardian.edge.capture.reads import device_key_row
from guardian.edge.context import EdgeContext
from guardian.edge.errors import PayloadTooLarge, TooManyRequests, Unauthorized
from guardian.edge.store.devices import is_valid_device_id, open_device_key

logger = logging.getLogger(__name__)

# Room for the multipart framing and small fields around an image of ``max_bytes``.
BODY_OVERHEAD_BYTES = 64 * 1024
_CHALLENGE = {"WWW-Authenticate": 'Guardian-HMAC realm="guardian-edge"'}
_LIMITER_STATE = "capture_rate_limiter"


@dataclass(frozen=True)
class SignedRequest:
    """What a device request says about itself: its id, timestamp and signature headers."""

    device_id: str
    timestamp: str
    signature: str
    method: str
    path: str


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


def signed_request(request: Request, ctx: EdgeContext) -> SignedRequest:
    """The signing headers of a device request; 401 naming any that are missing."""
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
    return SignedRequest(device_id, timestamp, signature, request.method, request.url.path)


def authenticate(ctx: EdgeContext, limiter: RateLimiter, signed: SignedRequest, body: bytes) -> str:
    """Check the signature over ``body`` (401) and the device's rate (429); the body hash.

    Blocking (a hash and a key lookup): call it from a worker thread.
    """
    body_sha256, problem = _check_signature(
        ctx,
        signed.device_id,
        signed.method,
        signed.path,
        signed.timestamp,
        body,
        signed.signature,
    )
    if problem is not None:
        raise _unauthorized(ctx, signed.device_id, problem)
    wait = limiter.acquire(signed.device_id)
    if wait > 0:
        count_ingest(ctx, "rate_limited")
        raise TooManyRequests(
            f"device {signed.device_id!r} is over its rate limit "
            f"({ctx.settings.capture.rate_per_second:g}/s, burst "
            f"{ctx.settings.capture.rate_burst}); retry in {wait:.2f} s",
            headers={"Retry-After": retry_after_header(wait)},
            retry_after_seconds=round(wait, 3),
        )
    return body_sha256


def _check_signature(
    ctx: EdgeContext,
    device_id: str,
    method: str,
    path: str,
    timestamp: str,
    body: bytes,
    signature: str,
) -> tuple[str, str | None]:
    """The body's SHA-256 and ``None``, or the reason the request is not authentic."""
    body_sha256 = hashlib.sha256(body).hexdigest()
    key = _load_key(ctx, device_id) if is_valid_device_id(device_id) else None
    if key is None:
        return body_sha256, "unknown or revoked device"
    return body_sha256, device_auth.verify(
        key, method, path, timestamp, body_sha256, signature, ctx.clock()
    )


def _load_key(ctx: EdgeContext, device_id: str) -> str | None:
    # A lock-free read: on SQLite a session would queue every request behind the writer.
    found = device_key_row(ctx.engine, device_id)
    if found is None:
        return None
    sealed, revoked = found
    return None if revoked else open_device_key(ctx.sealer, device_id, sealed)
