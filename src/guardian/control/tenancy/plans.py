"""Plans and their quotas: the built-in plans, a tenant's plan and its usage, quota checks."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from guardian.common.api_errors import ApiError
from guardian.control.archive.tables import EventArchive
from guardian.control.store.tables import Camera, Site, Tenant

logger = logging.getLogger(__name__)

GIB = 1024**3
Countable = Literal["cameras", "sites"]
DEFAULT_PLAN = "free"


@dataclass(frozen=True, slots=True)
class Quotas:
    """Limits of a plan; ``None`` means unlimited (for retention: events are kept)."""

    cameras: int | None
    sites: int | None
    event_retention_days: int | None
    archive_bytes: int | None


@dataclass(frozen=True, slots=True)
class Plan:
    """A named set of quotas a tenant subscribes to."""

    name: str
    quotas: Quotas

    def limit(self, what: Countable) -> int | None:
        limit: int | None = getattr(self.quotas, what)
        return limit

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "quotas": asdict(self.quotas)}


PLANS: dict[str, Plan] = {
    "free": Plan("free", Quotas(cameras=8, sites=2, event_retention_days=None, archive_bytes=GIB)),
}


class QuotaExceeded(ApiError):
    """The tenant's plan does not allow one more of something."""

    status, code = 403, "quota_exceeded"

    def __init__(self, plan: str, quota: str, limit: int) -> None:
        super().__init__(
            f"quota exceeded: the {plan} plan allows at most {limit} {quota}",
            quota=quota,
            limit=limit,
        )
        self.quota = quota
        self.limit = limit


def would_exceed(limit: int | None, used: int, adding: int = 1) -> bool:
    """Whether ``used + adding`` goes over ``limit`` (``None``: unlimited)."""
    return limit is not None and used + adding > limit


def resolve_plan(name: str | None) -> Plan:
    """The plan called ``name``; an unknown name falls back to the free plan."""
    plan = PLANS.get(name or DEFAULT_PLAN)
    if plan is None:
        logger.warning("unknown plan %r: applying the %s plan", name, DEFAULT_PLAN)
        return PLANS[DEFAULT_PLAN]
    return plan


def plan_of(session: Session, tenant_id: str) -> Plan:
    """The plan of ``tenant_id`` (the free plan when the tenant names an unknown one)."""
    name = session.scalar(select(Tenant.plan).where(Tenant.id == tenant_id))
    return resolve_plan(name)


def count_of(session: Session, tenant_id: str, what: Countable) -> int:
    """How many ``what`` the tenant has now."""
    table = Camera if what == "cameras" else Site
    used = session.scalar(
        select(func.count()).select_from(table).where(table.tenant_id == tenant_id)
    )
    return int(used or 0)


def usage(session: Session, tenant_id: str) -> dict[str, int]:
    """The tenant's current use of its quotas. Archive bytes are the sizes of the sealed
    blobs the relays reported (the relay enforces that quota; this is what the user sees)."""
    archived = session.scalar(
        select(func.coalesce(func.sum(EventArchive.size_bytes), 0)).where(
            EventArchive.tenant_id == tenant_id
        )
    )
    return {
        "cameras": count_of(session, tenant_id, "cameras"),
        "sites": count_of(session, tenant_id, "sites"),
        "archive_bytes": int(archived or 0),
    }


def check_quota(session: Session, tenant_id: str, what: Countable, adding: int = 1) -> None:
    """Raise ``QuotaExceeded`` unless the tenant may add ``adding`` more ``what``.

    On PostgreSQL the tenant row is locked for the rest of the transaction, so two
    concurrent additions cannot both pass the check (SQLite serialises writers already).
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(Tenant.id).where(Tenant.id == tenant_id).with_for_update())
    plan = plan_of(session, tenant_id)
    limit = plan.limit(what)
    if would_exceed(limit, count_of(session, tenant_id, what), adding):
        assert limit is not None
        raise QuotaExceeded(plan.name, what, limit)
