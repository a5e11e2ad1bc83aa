"""Rendering UI pages: the Jinja2 environment (autoescaped), its filters and common context."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from guardian.control.auth.principal import Principal
from guardian.control.web.deps import csrf_token
from guardian.control.web.session import TZ_COOKIE

HERE = Path(__file__).parent
NOTICES = {  # ?done=… codes: fixed texts only, so a link cannot put words on the page
    "saved": "Saved.",
    "note-added": "Note added.",
    "note-saved": "Note saved.",
    "camera-saved": "Camera saved.",
    "user-added": "User added.",
    "user-saved": "User saved.",
    "profile-saved": "Profile saved.",
    "signed-out": "You have signed out.",
    "password-changed": "Password changed. Please sign in with the new password.",
}


def iso_utc(value: dt.datetime | None) -> str:
    """RFC 3339 UTC text (``…Z``) for ``<time datetime>``; naive values are UTC."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def utc_text(value: dt.datetime | None) -> str:
    """Readable UTC text, shown until the page script localises it."""
    if value is None:
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def human_bytes(value: Any) -> str:
    """``1.5 GB`` style text for a byte count; ``—`` when unknown."""
    if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
        return "—"
    size = float(value)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return "—"


def humanise(word: str | None) -> str:
    """``interaction_detected`` → ``Interaction detected``."""
    if not word:
        return ""
    text = word.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def viewer_zone(request: Request) -> zoneinfo.ZoneInfo:
    """The viewer's time zone (from the cookie the page script sets), else UTC."""
    name = request.cookies.get(TZ_COOKIE, "")
    if name and len(name) <= 64:
        try:
            return zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            pass
    return zoneinfo.ZoneInfo("UTC")


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,  # every template, whatever its name
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        iso_utc=iso_utc, utc_text=utc_text, human_bytes=human_bytes, humanise=humanise
    )
    return env


TEMPLATES = Jinja2Templates(env=_environment())


def render(
    request: Request, template: str, *, status: int = 200, active: str = "", **values: Any
) -> Response:
    """``template`` with the page's common context (user, CSRF token, notice, nav)."""
    principal: Principal | None = getattr(request.state, "principal", None)
    notice = NOTICES.get(request.query_params.get("done", ""))
    context = {
        "principal": principal,
        "csrf_token": csrf_token(request),
        "notice": notice,
        "active": active,
        **values,
    }
    return TEMPLATES.TemplateResponse(request, template, context, status_code=status)


def error_page(request: Request, status: int, message: str) -> Response:
    """The HTML error page (403, 404, 409, 422, …) with the error's own message."""
    titles = {403: "Not allowed", 404: "Not found", 409: "Conflict", 429: "Slow down"}
    title = titles.get(status, "Something went wrong" if status >= 500 else "Cannot do that")
    return render(request, "error.html", status=status, title=title, message=message, code=status)
