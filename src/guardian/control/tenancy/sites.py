"""Sites (edge appliances) of a tenant and their single-use, expiring bootstrap tokens."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from guardian.common.api_errors import BadRequest, NotFound, Unauthorized
from guardian.control.store.tables import BootstrapToken, Camera, Event, Site
from guardian.control.tenancy.plans import check_quota
from guardian.control.tenancy.tokens import new_token, sha256_hex

BOOTSTRAP_TTL = dt.timedelta(hours=24)
TOKEN_PREFIX = "gbt"
NAME_MAX = 128


class BootstrapTokenRejected(Unauthorized):
    """A bootstrap token that is unknown, already used, revoked or expired."""

    code = "bootstrap_token_rejected"


def clean_name(name: str) -> str:
    """``name`` stripped, or ``BadRequest`` when empty or too long."""
    name = name.strip()
    if not name or len(name) > NAME_MAX:
        raise BadRequest(f"a site name needs 1-{NAME_MAX} characters")
    return name


def create_site(
    session: Session,
    *,
    tenant_id: str,
    name: str,
    now: dt.datetime,
    ttl: dt.timedelta = BOOTSTRAP_TTL,
) -> tuple[Site, str]:
    """A new site (within the plan's site quota) and its first bootstrap token."""
    name = clean_name(name)
    check_quota(session, tenant_id, "sites")
    site = Site(
        id=str(uuid.uuid4()), tenant_id=tenant_id, name=name, created_at=now, health="unknown"
    )
    session.add(site)
    session.flush()
    token, _expires = issue_bootstrap_token(session, site=site, now=now, ttl=ttl)
    return site, token


def issue_bootstrap_token(
    session: Session, *, site: Site, now: dt.datetime, ttl: dt.timedelta = BOOTSTRAP_TTL
) -> tuple[str, dt.datetime]:
    """A new bootstrap token for ``site`` (the unused ones it had are revoked)."""
    session.execute(
        update(BootstrapToken)
        .where(
            BootstrapToken.tenant_id == site.tenant_id,
            BootstrapToken.site_id == site.id,
            BootstrapToken.used_at.is_(None),
            BootstrapToken.expires_at > now,
        )
        .values(expires_at=now)
        .execution_options(synchronize_session=False)
    )
    token = new_token(TOKEN_PREFIX)
    expires_at = now + ttl
    session.add(
        BootstrapToken(
            id=str(uuid.uuid4()),
            tenant_id=site.tenant_id,
            site_id=site.id,
            token_sha256=sha256_hex(token),
            created_at=now,
            expires_at=expires_at,
        )
    )
    session.flush()
    return token, expires_at


def bootstrap_expiry(session: Session, tenant_id: str, site_id: str) -> dt.datetime | None:
    """When the site's newest bootstrap token expires (``None``: it never had one)."""
    return session.scalar(
        select(BootstrapToken.expires_at)
        .where(BootstrapToken.tenant_id == tenant_id, BootstrapToken.site_id == site_id)
        .order_by(BootstrapToken.created_at.desc())
        .limit(1)
    )


def redeem_bootstrap_token(session: Session, token: str, now: dt.datetime) -> Site:
    """The site a bootstrap token enrols, marking the token used (works once, before expiry).

    Runs in a system session: the caller does not know its tenant yet.
    """
    row = session.scalar(
        select(BootstrapToken).where(BootstrapToken.token_sha256 == sha256_hex(token))
    )
    if row is None:
        raise BootstrapTokenRejected("unknown bootstrap token")
    if row.used_at is not None:
        raise BootstrapTokenRejected("this bootstrap token has been used already")
    if row.expires_at <= now:
        raise BootstrapTokenRejected("this bootstrap token has expired or was revoked")
    # A conditional update, so two concurrent redemptions cannot both succeed.
    claimed = session.execute(
        update(BootstrapToken)
        .where(BootstrapToken.id == row.id, BootstrapToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(claimed, "rowcount", 0) != 1:
        raise BootstrapTokenRejected("this bootstrap token has been used already")
    site = session.get(Site, row.site_id)
    if site is None:
        raise BootstrapTokenRejected("the site of this bootstrap token is gone")
    if site.enrolled_at is None:
        site.enrolled_at = now
    session.flush()
    return site


def list_sites(session: Session, tenant_id: str) -> list[Site]:
    """The tenant's sites by name."""
    return list(
        session.scalars(
            select(Site).where(Site.tenant_id == tenant_id).order_by(Site.name, Site.id)
        )
    )


def get_site(session: Session, tenant_id: str, site_id: str) -> Site:
    """The tenant's site ``site_id`` or ``NotFound`` (also for another tenant's site)."""
    site = session.scalar(select(Site).where(Site.tenant_id == tenant_id, Site.id == site_id))
    if site is None:
        raise NotFound("no such site")
    return site


def delete_site(session: Session, site: Site) -> None:
    """Remove a site with its cameras and tokens; its events stay, detached from it."""
    tenant_id = site.tenant_id
    session.execute(
        update(Event)
        .where(Event.tenant_id == tenant_id, Event.site_id == site.id)
        .values(site_id=None, camera_id=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(delete(Camera).where(Camera.tenant_id == tenant_id, Camera.site_id == site.id))
    session.execute(
        delete(BootstrapToken).where(
            BootstrapToken.tenant_id == tenant_id, BootstrapToken.site_id == site.id
        )
    )
    session.delete(site)
    session.flush()
