"""Edge API errors: one hierarchy, mapped to HTTP status codes in one place."""

from __future__ import annotations

from typing import Any


class EdgeError(Exception):
    """Base of errors the edge API reports to clients as ``{"error": {...}}``."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, headers: dict[str, str] | None = None, **extra: Any):
        super().__init__(message)
        self.message = message
        self.headers = headers or {}
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, **self.extra}}


class BadRequest(EdgeError):
    status, code = 400, "bad_request"


class Unauthorized(EdgeError):
    status, code = 401, "unauthorized"


class NotFound(EdgeError):
    status, code = 404, "not_found"


class Conflict(EdgeError):
    status, code = 409, "conflict"


class Gone(EdgeError):
    status, code = 410, "gone"


class PayloadTooLarge(EdgeError):
    status, code = 413, "payload_too_large"


class UnsupportedMedia(EdgeError):
    status, code = 415, "unsupported_media_type"


class Unprocessable(EdgeError):
    status, code = 422, "invalid_request"


class TooManyRequests(EdgeError):
    status, code = 429, "rate_limited"


class InsufficientStorage(EdgeError):
    status, code = 507, "insufficient_storage"
