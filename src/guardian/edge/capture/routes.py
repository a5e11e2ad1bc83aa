"""``POST /v1/captures``: a signed multipart upload from a capture device."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from guardian.edge.api.deps import ContextDep
from guardian.edge.capture.auth import (
    SignedRequest,
    authenticate,
    rate_limiter,
    read_body_capped,
    signed_request,
)
from guardian.edge.capture.ingest import (
    MAX_DEVICE_SEQ,
    IngestResult,
    count_ingest,
    ingest_capture,
)
from guardian.edge.capture.multipart import MultipartError, Part, parse_form
from guardian.edge.capture.ratelimit import RateLimiter
from guardian.edge.context import EdgeContext
from guardian.edge.errors import PayloadTooLarge, Unprocessable

logger = logging.getLogger(__name__)

router = APIRouter()
_EXECUTOR_STATE = "capture_upload_threads"
# Uploads handled at once (each blocks a thread on its write and commit); more queue.
UPLOAD_THREADS = 16

_INTEGER = re.compile(r"[+-]?[0-9]+")
# [0-9], not \d: \d also matches non-ASCII digits.
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})"
)

_ERROR = {"description": 'JSON body `{"error": {"code", "message", ...}}`'}
_MULTIPART_SCHEMA: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["image", "device_seq"],
                    "properties": {
                        "image": {"type": "string", "format": "binary"},
                        "device_seq": {"type": "integer", "minimum": 0},
                        "captured_at": {"type": "string", "format": "date-time"},
                    },
                }
            }
        },
    }
}


@dataclass(frozen=True)
class CaptureForm:
    """The validated fields of an upload."""

    image: bytes
    device_seq: int
    captured_at: dt.datetime | None


@router.post(
    "/v1/captures",
    status_code=201,
    response_model=None,
    openapi_extra=_MULTIPART_SCHEMA,
    responses={
        200: {"description": "A retry of a stored capture (`duplicate: true`)."},
        201: {"description": 'Stored: `{"capture_id", "status", "duplicate": false}`.'},
        **dict.fromkeys((401, 409, 413, 415, 422, 429, 507), _ERROR),
    },
)
async def post_capture(request: Request, ctx: ContextDep) -> JSONResponse:
    """Store a device's image once (retries answer the original) and queue its detection."""
    signed = signed_request(request, ctx)
    body = await read_body_capped(request, ctx)
    content_type = request.headers.get("content-type", "")
    # Everything after reading the body blocks (hashing, key lookup, file write, commit):
    # one worker-thread hop for all of it keeps the event loop free for other uploads. A
    # plain executor: anyio's thread hop costs twice the CPU on the event loop.
    limiter = rate_limiter(request.app, ctx)
    work = functools.partial(handle_upload, ctx, limiter, signed, content_type, body)
    result = await asyncio.get_running_loop().run_in_executor(_upload_threads(request.app), work)
    payload = {
        "capture_id": result.capture_id,
        "status": result.status,
        "duplicate": result.duplicate,
    }
    return JSONResponse(payload, status_code=200 if result.duplicate else 201)


def _upload_threads(app: FastAPI) -> ThreadPoolExecutor:
    """The app's upload threads, made on first use (only the event loop thread runs this)."""
    pool: ThreadPoolExecutor | None = getattr(app.state, _EXECUTOR_STATE, None)
    if pool is None:
        pool = ThreadPoolExecutor(UPLOAD_THREADS, thread_name_prefix="capture-upload")
        setattr(app.state, _EXECUTOR_STATE, pool)
    return pool


def handle_upload(
    ctx: EdgeContext, limiter: RateLimiter, signed: SignedRequest, content_type: str, body: bytes
) -> IngestResult:
    """Authenticate (401/429), parse (422/413) and ingest one upload; blocking."""
    authenticate(ctx, limiter, signed, body)
    form = read_capture_form(ctx, content_type, body)
    return ingest_capture(ctx, signed.device_id, form.device_seq, form.captured_at, form.image)


def read_capture_form(ctx: EdgeContext, content_type: str, body: bytes) -> CaptureForm:
    """Parse and check the multipart fields; 422 naming every bad field, 413 for a big image."""
    if not content_type.lower().startswith("multipart/form-data"):
        raise _invalid(ctx, [("request", "send multipart/form-data (image, device_seq)")])
    try:
        form = parse_form(content_type, body)
    except MultipartError as exc:
        raise _invalid(ctx, [("request", f"body is not valid multipart/form-data: {exc}")]) from exc
    problems: list[tuple[str, str]] = []
    image = form.get("image")
    data = b""
    if image is None:
        problems.append(("image", "missing: attach the image file as part 'image'"))
    elif not image.is_file:
        problems.append(("image", "must be a file part (with a filename), not a text field"))
    else:
        data = image.data
    device_seq = _parse_seq(_text(form.get("device_seq")), problems)
    captured_at = _parse_time(_text(form.get("captured_at")), problems)
    if problems:
        raise _invalid(ctx, problems)
    limit = ctx.settings.capture.max_bytes
    if len(data) > limit:
        count_ingest(ctx, "too_large")
        raise PayloadTooLarge(
            f"image is {len(data)} bytes, over the limit of {limit}", max_bytes=limit
        )
    assert device_seq is not None
    return CaptureForm(data, device_seq, captured_at)


def _text(part: Part | None) -> str | None:
    """A text field's value; ``""`` for a file part (then reported as invalid)."""
    if part is None:
        return None
    return "" if part.is_file else part.text()


def _parse_seq(value: str | None, problems: list[tuple[str, str]]) -> int | None:
    if value is None or value == "":
        problems.append(("device_seq", "missing: an integer >= 0, increasing per device"))
        return None
    text = value.strip()
    # ASCII digits only: int() alone would also take "1_000" and non-Latin digits.
    if not _INTEGER.fullmatch(text):
        problems.append(("device_seq", f"must be an integer >= 0, got {text[:40]!r}"))
        return None
    seq = int(text)
    if not 0 <= seq <= MAX_DEVICE_SEQ:
        problems.append(("device_seq", f"must be between 0 and {MAX_DEVICE_SEQ}, got {seq}"))
        return None
    return seq


def _parse_time(value: str | None, problems: list[tuple[str, str]]) -> dt.datetime | None:
    if value is None or value == "":
        return None  # the ingest uses the receive time
    text = value.strip().upper()
    # RFC 3339 needs date, time with seconds and an offset; fromisoformat alone takes less.
    if _RFC3339.fullmatch(text):
        try:
            return dt.datetime.fromisoformat(text)
        except ValueError:  # e.g. month 13
            pass
    problems.append(
        (
            "captured_at",
            "must be an RFC 3339 time with a timezone, e.g. 2024-05-01T12:00:00Z; "
            f"got {text[:40]!r}",
        )
    )
    return None


def _invalid(ctx: EdgeContext, problems: list[tuple[str, str]]) -> Unprocessable:
    count_ingest(ctx, "invalid")
    summary = "; ".join(f"{field}: {message}" for field, message in problems)
    fields = [{"field": field, "message": message} for field, message in problems]
    return Unprocessable(summary, fields=fields)
