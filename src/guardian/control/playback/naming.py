"""Pure playback helpers: the download file name and the relay URLs of a media item."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from guardian.common.api_errors import Unprocessable
from guardian.contracts.playback import EXTENSIONS, MediaKind, safe_filename

MEDIA_PATH = "/v1/media"


def zone_of(name: str | None) -> dt.tzinfo:
    """The IANA time zone ``name`` (UTC when None); ``Unprocessable`` (422) for an unknown one."""
    if not name:
        return dt.UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise Unprocessable(f"unknown time zone {name!r}") from exc


def download_name(source: str, started_at: dt.datetime, kind: MediaKind, tz: dt.tzinfo) -> str:
    """``<camera or device>-<local start time>-<kind>.<ext>``, safe for any file system."""
    local = started_at.astimezone(tz)
    stem = safe_filename(f"{source}-{local:%Y%m%d-%H%M%S}-{kind}")
    return f"{stem}.{EXTENSIONS[kind]}"


def validate_public_url(url: str) -> str:
    """The relay's browser-facing base URL without a trailing slash (else 422)."""
    cleaned = url.strip().rstrip("/")
    parts = urlsplit(cleaned)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise Unprocessable("a relay public url must be an http(s) URL with a host")
    if parts.query or parts.fragment:
        raise Unprocessable("a relay public url takes no query or fragment")
    return cleaned


def media_url(base: str, event_id: str, what: str, token: str, *, download: bool = False) -> str:
    """``<base>/v1/media/<event_id>/<what>?token=…`` (plus ``download=1``)."""
    query = {"token": token, **({"download": "1"} if download else {})}
    return f"{base.rstrip('/')}{MEDIA_PATH}/{event_id}/{what}?{urlencode(query)}"
