"""Control plane API: relays (being built)."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from guardian.control.context import ControlContext

router = APIRouter()


def install(app: FastAPI, ctx: ControlContext) -> None:
    """Attach what this feature needs at app creation (services, startup hooks)."""
