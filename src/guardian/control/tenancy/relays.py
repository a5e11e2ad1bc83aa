"""Relays: private nodes that carry a tenant's sites to the control plane.

Relays are not tenant rows: they are created and listed with the system session; which
relay serves a tenant lives in ``relay_assignments`` (a tenant row, one per tenant).
"""

from __future__ import annotations

import datetime as dt
import uuid
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from guardian.common.api_errors import BadRequest, Conflict, NotFound
from guardian.common.db import utcnow
from guardian.control.store.tables import Relay, RelayAssignment, Tenant
from guardian.control.tenancy.tokens import new_token, sha256_hex

TOKEN_PREFIX = "grl"
NAME_MAX = 128


def validate_relay(name: str, url: str) -> tuple[str, str]:
    """The cleaned ``(name, url)``, or ``BadRequest`` saying what is wrong."""
    name = name.strip()
    if not name or len(name) > NAME_MAX:
        raise BadRequest(f"a relay name needs 1-{NAME_MAX} characters")
    parts = urlsplit(url.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise BadRequest("a relay url must be an http(s) URL with a host")
    return name, url.strip()


def create_relay(
    session: Session, *, name: str, url: str, now: dt.datetime | None = None
) -> tuple[Relay, str]:
    """A new relay and its bearer token (shown once: only its SHA-256 is stored)."""
    name, url = validate_relay(name, url)
    if session.scalar(select(Relay.id).where(Relay.name == name)) is not None:
        raise Conflict(f"a relay named {name!r} exists already")
    token = new_token(TOKEN_PREFIX)
    relay = Relay(
        id=str(uuid.uuid4()),
        name=name,
        url=url,
        token_sha256=sha256_hex(token),
        health="unknown",
        created_at=now or utcnow(),
    )
    session.add(relay)
    session.flush()
    return relay, token


def find_relay(session: Session, id_or_name: str) -> Relay | None:
    """The relay with this id, else the one with this name."""
    relay = session.get(Relay, id_or_name)
    if relay is None:
        relay = session.scalar(select(Relay).where(Relay.name == id_or_name))
    return relay


def list_relays(session: Session) -> list[Relay]:
    """All relays by name (system session)."""
    return list(session.scalars(select(Relay).order_by(Relay.name)))


def assign_relay(
    session: Session, *, tenant_id: str, relay_id: str, now: dt.datetime | None = None
) -> RelayAssignment:
    """Make ``relay_id`` the relay of ``tenant_id`` (replacing any previous one)."""
    if session.get(Tenant, tenant_id) is None:
        raise NotFound(f"no tenant {tenant_id}")
    if session.get(Relay, relay_id) is None:
        raise NotFound(f"no relay {relay_id}")
    assignment = session.get(RelayAssignment, tenant_id)
    if assignment is None:
        assignment = RelayAssignment(tenant_id=tenant_id, relay_id=relay_id)
        session.add(assignment)
    assignment.relay_id = relay_id
    assignment.assigned_at = now or utcnow()
    session.flush()
    return assignment


def assigned_relay_id(session: Session, tenant_id: str) -> str | None:
    """The id of the relay serving ``tenant_id`` (works in that tenant's session)."""
    return session.scalar(
        select(RelayAssignment.relay_id).where(RelayAssignment.tenant_id == tenant_id)
    )


def relay_serves(session: Session, relay_id: str, tenant_id: str) -> bool:
    """Whether ``relay_id`` is the relay assigned to ``tenant_id``."""
    return assigned_relay_id(session, tenant_id) == relay_id


def tenants_of(session: Session, relay_id: str) -> list[str]:
    """Ids of the tenants a relay serves (system session)."""
    return list(
        session.scalars(
            select(RelayAssignment.tenant_id)
            .where(RelayAssignment.relay_id == relay_id)
            .order_by(RelayAssignment.tenant_id)
        )
    )


def touch_relay(session: Session, relay_id: str, now: dt.datetime) -> None:
    """Record that the relay just called in (it is healthy as long as it keeps doing so)."""
    relay = session.get(Relay, relay_id)
    if relay is None:
        return
    relay.health = "healthy"
    if relay.last_seen_at is None or relay.last_seen_at < now:
        relay.last_seen_at = now
