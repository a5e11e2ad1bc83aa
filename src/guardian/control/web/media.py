"""Clip and snapshot links for the event page: playback tokens from the control plane's
playback service; the browser then fetches the media from the tenant's relay directly."""

from __future__ import annotations

import datetime as dt
import importlib
import logging
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from guardian.common.api_errors import ApiError
from guardian.control.auth.principal import Principal
from guardian.control.context import ControlContext
from guardian.control.web.deps import allow_media_from
from guardian.control.web.security import origin_of

logger = logging.getLogger(__name__)
PLAYBACK_MODULE = "guardian.control.playback"
KINDS = ("clip", "snapshot")


@dataclass(frozen=True, slots=True)
class MediaLink:
    """Where the browser fetches one medium of an event (token in the URL, short-lived)."""

    kind: str
    url: str
    download_url: str
    expires_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class EventMedia:
    """The event's clip and snapshot links, or why there are none."""

    clip: MediaLink | None = None
    snapshot: MediaLink | None = None
    boxes_url: str | None = None  # JSON boxes to draw over the snapshot
    problem: str | None = None

    @property
    def origins(self) -> set[str]:
        links = (self.clip, self.snapshot)
        return {o for link in links if link is not None and (o := origin_of(link.url))}


def _issuer() -> Any:
    """The playback service's ``issue_playback``, or ``None`` when it is not installed."""
    try:
        module = importlib.import_module(PLAYBACK_MODULE)
    except ImportError:
        return None
    return getattr(module, "issue_playback", None)


def link_of(kind: str, playback: Any) -> MediaLink:
    """A ``MediaLink`` from what the playback service answers (object or mapping)."""

    def get(name: str) -> Any:
        return playback[name] if isinstance(playback, dict) else getattr(playback, name)

    expires = get("expires_at")
    return MediaLink(kind, str(get("url")), str(get("download_url")), expires)


def issue(
    ctx: ControlContext, principal: Principal, event_id: str, kind: str, tz: str | None = None
) -> tuple[MediaLink, str | None]:
    """A fresh link for one medium and, for a snapshot, its boxes' URL (``ApiError`` from
    the playback service as is: no relay, no public relay URL, no such event).

    Call it outside any open transaction: the service opens its own.
    """
    issue_playback = _issuer()
    if issue_playback is None:
        raise _Unavailable("clip playback is not installed on this control plane")
    playback = issue_playback(ctx, principal, event_id, kind, tz=tz)
    boxes = getattr(playback, "boxes_url", None)
    return link_of(kind, playback), str(boxes) if boxes else None


class _Unavailable(ApiError):
    status, code = 503, "playback_unavailable"


def for_event(
    ctx: ControlContext, principal: Principal, event_id: str, tz: str | None = None
) -> EventMedia:
    """Links for the event's clip and snapshot (download names in the viewer's zone ``tz``);
    a readable problem instead when there are none (no relay, playback not installed).

    Call it outside any open transaction (the playback service opens its own).
    """
    links: dict[str, MediaLink] = {}
    boxes_url = None
    for kind in KINDS:
        try:
            links[kind], boxes = issue(ctx, principal, event_id, kind, tz)
        except ApiError as exc:
            return EventMedia(problem=exc.message)
        boxes_url = boxes_url or boxes
    return EventMedia(links.get("clip"), links.get("snapshot"), boxes_url)


def allow(request: Request, found: EventMedia) -> None:
    """Let the page load the media from the relay (its CSP names the relay's origin)."""
    allow_media_from(request, *found.origins)


def as_json(found: EventMedia) -> dict[str, Any]:
    """The links as the page script reads them."""

    def link(item: MediaLink | None) -> dict[str, str] | None:
        if item is None:
            return None
        return {"url": item.url, "download_url": item.download_url}

    return {
        "clip": link(found.clip),
        "snapshot": link(found.snapshot),
        "boxes_url": found.boxes_url,
        "problem": found.problem,
    }
