"""Control plane HTTP middleware (being built): security headers, CORS, rate limits."""

from __future__ import annotations

from fastapi import FastAPI

from guardian.control.context import ControlContext


def install(app: FastAPI, ctx: ControlContext) -> None:
    """Add the middleware stack to ``app``."""
