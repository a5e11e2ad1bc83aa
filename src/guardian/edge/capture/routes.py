"""``POST /v1/captures``: a signed multipart upload from a capture device."""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException

from guardian.edge.api.deps import ContextDep
from guardian.edge.capture.auth import DeviceRequest, DeviceRequestDep
from guardian.edge.capture.ingest import MAX_DEVICE_SEQ, count_ingest, ingest_capture
from guardian.edge.context import EdgeContext
from guardian.edge.errors import PayloadTooLarge, Unprocessable

logger = logging.getLogger(__name__)

router = APIRouter()

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
async def post_capture(upload: DeviceRequestDep, ctx: ContextDep) -> JSONResponse:
    """Store a device's image once (retries answer the original) and queue its detection."""
    form = await read_capture_form(upload, ctx)
    result = await run_in_threadpool(
        ingest_capture, ctx, upload.device_id, form.device_seq, form.captured_at, form.image
    )
    body = {
        "capture_id": result.capture_id,
        "status": result.status,
        "duplicate": result.duplicate,
    }
    return JSONResponse(body, status_code=200 if result.duplicate else 201)


async def read_capture_form(upload: DeviceRequest, ctx: EdgeContext) -> CaptureForm:
    """Parse and check the multipart fields; 422 naming every bad field, 413 for a big image."""
    content_type = upload.request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise _invalid(ctx, [("request", "send multipart/form-data (image, device_seq)")])
    try:
        form = await upload.replay().form()
    except (MultiPartException, HTTPException) as exc:
        detail = getattr(exc, "message", None) or getattr(exc, "detail", "")
        raise _invalid(
            ctx, [("request", f"body is not valid multipart/form-data: {detail}")]
        ) from exc
    try:
        return await _fields(form, ctx)
    finally:
        await form.close()


async def _fields(form: FormData, ctx: EdgeContext) -> CaptureForm:
    problems: list[tuple[str, str]] = []
    image = form.get("image")
    data = b""
    if image is None:
        problems.append(("image", "missing: attach the image file as part 'image'"))
    elif not isinstance(image, UploadFile):
        problems.append(("image", "must be a file part (with a filename), not a text field"))
    else:
        data = await image.read()
    device_seq = _parse_seq(form.get("device_seq"), problems)
    captured_at = _parse_time(form.get("captured_at"), problems)
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


def _parse_seq(value: str | UploadFile | None, problems: list[tuple[str, str]]) -> int | None:
    if value is None or value == "":
        problems.append(("device_seq", "missing: an integer >= 0, increasing per device"))
        return None
    text = value.strip() if isinstance(value, str) else ""
    # ASCII digits only: int() alone would also take "1_000" and non-Latin digits.
    if not _INTEGER.fullmatch(text):
        problems.append(("device_seq", f"must be an integer >= 0, got {text[:40]!r}"))
        return None
    seq = int(text)
    if not 0 <= seq <= MAX_DEVICE_SEQ:
        problems.append(("device_seq", f"must be between 0 and {MAX_DEVICE_SEQ}, got {seq}"))
        return None
    return seq


def _parse_time(
    value: str | UploadFile | None, problems: list[tuple[str, str]]
) -> dt.datetime | None:
    if value is None or value == "":
        return None  # the ingest uses the receive time
    text = value.strip().upper() if isinstance(value, str) else ""
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
