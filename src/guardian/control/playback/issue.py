"""Issuing playback tokens: find the event and its tenant's relay, sign, build the URLs."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import select

from guardian.common.api_errors import Conflict, NotFound
from guardian.contracts import playback as contract
from guardian.contracts.playback import MediaKind
from guardian.control.auth.keys import KeyRing
from guardian.control.auth.principal import Principal
from guardian.control.context import ControlContext
from guardian.control.playback.naming import download_name, media_url, zone_of
from guardian.control.store.tables import Camera, Event, Relay, RelayAssignment

logger = logging.getLogger(__name__)
KEYRING = "keyring"  # ctx.services key of the KeyRing (set by control.api.auth.install)


class PlaybackUnavailable(Conflict):
    """The tenant has no relay (or it has no public URL): nothing can serve the media."""

    code = "playback_unavailable"


@dataclass(frozen=True, slots=True)
class PlaybackTarget:
    """What a token is made for: the event, its tenant and the relay's public base URL."""

    tenant_id: str
    event_id: str
    kind: MediaKind
    relay_url: str
    filename: str


@dataclass(frozen=True, slots=True)
class Playback:
    """URLs the browser fetches from the relay (the token is in their query)."""

    kind: MediaKind
    url: str
    download_url: str
    expires_at: dt.datetime
    boxes_url: str | None = None


def resolve_target(
    ctx: ControlContext,
    tenant_id: str,
    event_id: str,
    kind: MediaKind,
    tz: str | None = None,
) -> PlaybackTarget:
    """Look the event and the tenant's relay up (``NotFound``, ``PlaybackUnavailable``)."""
    zone = zone_of(tz)
    with ctx.db.tenant(tenant_id) as session:
        row = session.execute(
            select(Event.started_at, Event.source_name, Camera.display_name)
            .outerjoin(Camera, (Camera.id == Event.camera_id) & (Camera.tenant_id == tenant_id))
            .where(Event.id == event_id, Event.tenant_id == tenant_id)
        ).first()
        if row is None:
            raise NotFound(f"no event {event_id}")
        relay_id = session.scalar(
            select(RelayAssignment.relay_id).where(RelayAssignment.tenant_id == tenant_id)
        )
    if relay_id is None:
        raise PlaybackUnavailable("this tenant has no relay, so clips cannot be played")
    # Relays are not tenant rows: read with the system session, after the tenant's ends.
    with ctx.db.system() as session:
        relay = session.execute(
            select(Relay.name, Relay.public_url).where(Relay.id == relay_id)
        ).first()
    if relay is None:
        raise PlaybackUnavailable("this tenant has no relay, so clips cannot be played")
    if not relay.public_url:
        raise PlaybackUnavailable(
            f"relay {relay.name!r} has no public URL; add it with "
            "`guardian control relay add … --public-url URL`"
        )
    source = row.display_name or row.source_name
    filename = download_name(source, row.started_at, kind, zone)
    return PlaybackTarget(tenant_id, event_id, kind, str(relay.public_url), filename)


def sign_target(ctx: ControlContext, target: PlaybackTarget) -> Playback:
    """Sign a token for ``target`` with the issuer's active key; the URLs carrying it."""
    keyring = ctx.services.get(KEYRING)
    if not isinstance(keyring, KeyRing):
        raise RuntimeError("the key ring is not installed (control.api.auth.install)")
    key = keyring.active()
    lifetime = ctx.settings.playback.token_seconds
    payload = contract.claims(
        issuer=ctx.settings.auth.issuer,
        tenant_id=target.tenant_id,
        event_id=target.event_id,
        kind=target.kind,
        filename=target.filename,
        now=ctx.clock(),
        lifetime_seconds=lifetime,
    )
    token = contract.sign(payload, key.private_key, key.kid)
    base, event_id = target.relay_url, target.event_id
    logger.info(
        "playback token issued",
        extra={"tenant_id": target.tenant_id, "event_id": event_id, "kind": target.kind},
    )
    return Playback(
        kind=target.kind,
        url=media_url(base, event_id, target.kind, token),
        download_url=media_url(base, event_id, target.kind, token, download=True),
        expires_at=dt.datetime.fromtimestamp(payload["exp"], dt.UTC),
        boxes_url=media_url(base, event_id, "boxes", token) if target.kind == "snapshot" else None,
    )


def issue_playback(
    ctx: ControlContext,
    principal_or_tenant: Principal | str,
    event_id: str,
    kind: MediaKind,
    tz: str | None = None,
) -> Playback:
    """A playback token for the event's ``kind`` and the relay URLs carrying it.

    Any role of the event's tenant may play its media. Reads in its own transactions and
    signs after them (the key ring reads the store too: on SQLite a transaction inside
    another one would wait for itself), so call it outside any open transaction. Raises
    ``NotFound`` for an unknown event or another tenant's, ``PlaybackUnavailable`` (409)
    when no relay can serve it and ``Unprocessable`` for an unknown time zone ``tz`` (IANA
    name, for the download file name).
    """
    tenant_id = (
        principal_or_tenant.tenant_id
        if isinstance(principal_or_tenant, Principal)
        else principal_or_tenant
    )
    return sign_target(ctx, resolve_target(ctx, tenant_id, event_id, kind, tz))
