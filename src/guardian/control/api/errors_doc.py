"""The control plane's error body for OpenAPI: ``{"error": {"code", "message", ...}}``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorDetail(BaseModel):
    """What went wrong: a stable ``code`` and a human ``message``."""

    code: str = Field(examples=["not_found"])
    message: str = Field(examples=["no such site"])


class ErrorBody(BaseModel):
    """Every error of the control plane: ``{"error": {"code", "message", ...}}``."""

    error: ErrorDetail


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` documenting the error body for ``statuses``."""
    return {status: {"model": ErrorBody} for status in statuses}
