"""Control plane API: playback tokens for an event's clip or snapshot (served by the relay).

The media never passes through the control plane: it signs a short-lived token bound to
tenant, event, media kind and expiry, and answers the relay URLs that carry it.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, FastAPI, Path
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from guardian.contracts.playback import MediaKind
from guardian.control.api.deps import ContextDep, PrincipalDep
from guardian.control.api.errors_doc import errors
from guardian.control.context import ControlContext
from guardian.control.playback import issue_playback

router = APIRouter(prefix="/api/v1/events", tags=["playback"])
EventId = Annotated[str, Path(max_length=36)]


class PlaybackIn(BaseModel):
    """Which media of the event to play."""

    model_config = ConfigDict(extra="forbid")

    kind: MediaKind = Field(description="`clip` (MP4) or `snapshot` (JPEG).")
    tz: str | None = Field(
        None,
        max_length=64,
        description="The viewer's IANA time zone for the download file name (default UTC).",
        examples=["Europe/Paris"],
    )


class PlaybackOut(BaseModel):
    """Relay URLs with the token in their query; valid until ``expires_at``."""

    kind: MediaKind
    url: str = Field(description="Progressive download with Range support (for <video>/<img>).")
    download_url: str = Field(description="The same media as an attachment with a file name.")
    expires_at: dt.datetime
    boxes_url: str | None = Field(
        None, description="Snapshot only: JSON boxes in the snapshot's pixel coordinates."
    )


@router.post(
    "/{event_id}/playback",
    response_model=PlaybackOut,
    summary="A short-lived playback token for an event's clip or snapshot",
    description="Any role of the event's tenant. The browser then fetches the media from the "
    "tenant's relay, never through the control plane.",
    responses=errors(401, 404, 409, 422),
)
async def post_playback(
    ctx: ContextDep, principal: PrincipalDep, event_id: EventId, body: PlaybackIn
) -> PlaybackOut:
    played = await run_in_threadpool(issue_playback, ctx, principal, event_id, body.kind, body.tz)
    return PlaybackOut(
        kind=played.kind,
        url=played.url,
        download_url=played.download_url,
        expires_at=played.expires_at,
        boxes_url=played.boxes_url,
    )


def install(app: FastAPI, ctx: ControlContext) -> None:
    """Nothing to attach: the key ring comes from the auth feature."""
