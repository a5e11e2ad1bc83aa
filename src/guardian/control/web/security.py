"""The web UI's browser security policy: Content-Security-Policy and origins (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit


def origin_of(url: str | None) -> str | None:
    """``scheme://host[:port]`` of an http(s) URL, or ``None`` for anything else."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port is not None else ""
    return f"{parts.scheme}://{host}{port}"


def ui_csp(media_origins: Iterable[str] = ()) -> str:
    """The policy of every UI page: own scripts and styles only, no inline script, no framing.

    ``media_origins`` (the tenant's relay) may serve clips, snapshots and their box data.
    """
    extra = " ".join(sorted({o for o in media_origins if o}))
    media = f"'self' {extra}".strip()
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            f"img-src 'self' data: {extra}".strip(),
            f"media-src {media}",
            f"connect-src {media}",
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )
