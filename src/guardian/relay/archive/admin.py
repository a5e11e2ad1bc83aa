"""Relay admin actions on the archive: delete a blob (audited, reported upstream), the trail."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from guardian.archive.cid import check_cid
from guardian.relay.archive import store
from guardian.relay.archive.backends import BlobBackend
from guardian.relay.archive.ledger import ArchiveLedgerClient
from guardian.relay.archive.tables import ArchiveObject

logger = logging.getLogger(__name__)


class ArchiveAdminError(Exception):
    """The admin action cannot be done as asked (unknown CID, ambiguous tenant, no reason)."""


@dataclass(frozen=True, slots=True)
class Deleted:
    """What a deletion removed."""

    cid: str
    tenant_id: str
    size: int
    event_ids: list[str]
    reported: bool


def delete_archive(
    sessions: sessionmaker[Session],
    backend: BlobBackend,
    ledger: ArchiveLedgerClient | None,
    *,
    cid: str,
    actor: str,
    reason: str,
    tenant_id: str | None = None,
    now: dt.datetime | None = None,
) -> Deleted:
    """Delete a tenant's blob: audit entry and event marks first, then the bytes, then report.

    The bytes stay when another tenant holds the same CID. The control plane is told (now,
    or on the next report if it is unreachable) and forgets the events' CID.
    """
    check_cid(cid)
    if not reason.strip():
        raise ArchiveAdminError("a reason is required for the audit trail")
    now = now or dt.datetime.now(dt.UTC)
    with sessions.begin() as session:
        query = select(ArchiveObject).where(ArchiveObject.cid == cid)
        if tenant_id is not None:
            query = query.where(ArchiveObject.tenant_id == tenant_id)
        holders = list(session.scalars(query))
        if not holders:
            raise ArchiveAdminError(f"no archived blob {cid}")
        if len(holders) > 1:
            raise ArchiveAdminError(f"several tenants hold {cid}: name one with --tenant")
        obj = holders[0]
        deleted = Deleted(obj.cid, obj.tenant_id, obj.size_bytes, [], False)
        events = store.delete_object(session, obj, actor=actor, reason=reason.strip(), now=now)
        session.flush()
        shared = session.scalar(select(ArchiveObject.cid).where(ArchiveObject.cid == cid))
    if shared is None:
        backend.delete(cid)
    reported = ledger.sync([deleted.tenant_id]) if ledger is not None else False
    logger.warning(
        "archive blob deleted by an admin",
        extra={"cid": cid, "tenant_id": deleted.tenant_id, "actor": actor},
    )
    return Deleted(deleted.cid, deleted.tenant_id, deleted.size, events, reported)
