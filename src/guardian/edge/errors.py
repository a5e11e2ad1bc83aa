"""Edge API errors: the shared API error hierarchy under the edge's historical names."""

from __future__ import annotations

from guardian.common.api_errors import (
    ApiError,
    BadRequest,
    Conflict,
    Forbidden,
    Gone,
    InsufficientStorage,
    NotFound,
    PayloadTooLarge,
    TooManyRequests,
    Unauthorized,
    Unprocessable,
    UnsupportedMedia,
)

EdgeError = ApiError

__all__ = [
    "ApiError",
    "BadRequest",
    "Conflict",
    "EdgeError",
    "Forbidden",
    "Gone",
    "InsufficientStorage",
    "NotFound",
    "PayloadTooLarge",
    "TooManyRequests",
    "Unauthorized",
    "Unprocessable",
    "UnsupportedMedia",
]
