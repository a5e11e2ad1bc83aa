"""The web UI: server-rendered pages (Jinja2) and a little plain JavaScript, served by the
control plane over the same services and tenant sessions as the JSON API."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from guardian.control.context import ControlContext

STATIC_DIR = Path(__file__).parent / "static"


def install(app: FastAPI, ctx: ControlContext) -> None:
    """Add the UI's pages and its static files (``/static``) to the control plane app."""
    from guardian.control.web import (
        pages_auth,
        pages_dashboard,
        pages_events,
        pages_fleet,
        pages_interactions,
        pages_notes,
        pages_users,
    )
    from guardian.control.web.deps import WebRoute
    from guardian.control.web.render import error_page

    WebRoute.error_page = error_page
    for pages in (
        pages_auth,
        pages_dashboard,
        pages_events,
        pages_notes,
        pages_interactions,
        pages_fleet,
        pages_users,
    ):
        app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
