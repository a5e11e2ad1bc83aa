"""``ArchiveLedger``: relays report archived events (CID and size) and get tenant quotas.

Authenticated like ``ControlLink`` (the relay's bearer token, looked up on every call);
a relay may only report for tenants assigned to it. The quota answered is the plan's
``archive_bytes``.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid

import grpc
from sqlalchemy import select

from guardian.archive.cid import check_cid
from guardian.contracts.pb.guardian.v1 import archive_pb2, archive_pb2_grpc
from guardian.control.archive.tables import EventArchive
from guardian.control.context import ControlContext
from guardian.control.link_server import NOT_ASSIGNED, LinkDenied, bearer_of
from guardian.control.store.tables import Event, Relay
from guardian.control.tenancy.plans import plan_of
from guardian.control.tenancy.relays import tenants_of
from guardian.control.tenancy.tokens import sha256_hex

logger = logging.getLogger(__name__)

MAX_EVENTS = 1000
OTHER_TENANT = "the event belongs to another tenant"


def _check(entry: archive_pb2.ArchivedEvent) -> str | None:
    """Why the entry is malformed, or None."""
    try:
        uuid.UUID(entry.event_id)
        uuid.UUID(entry.tenant_id)
        if not entry.deleted:
            check_cid(entry.cid)
    except ValueError as exc:
        return str(exc)
    if not entry.deleted and (entry.size <= 0 or not entry.HasField("archived_at")):
        return "an archived event needs a size and archived_at"
    return None


class ArchiveLedgerServicer(archive_pb2_grpc.ArchiveLedgerServicer):
    """Keeps ``event_archives`` in step with the relays' reports."""

    def __init__(self, ctx: ControlContext) -> None:
        self._ctx = ctx

    def _relay_id(self, context: grpc.ServicerContext) -> str:
        digest = sha256_hex(bearer_of(context))
        with self._ctx.db.system() as session:
            relay_id = session.scalar(select(Relay.id).where(Relay.token_sha256 == digest))
        if relay_id is None:
            raise LinkDenied(grpc.StatusCode.UNAUTHENTICATED, "unknown relay token")
        return str(relay_id)

    def Report(
        self, request: archive_pb2.ArchiveReport, context: grpc.ServicerContext
    ) -> archive_pb2.ArchiveReportAck:
        try:
            relay_id = self._relay_id(context)
            if len(request.events) > MAX_EVENTS:
                raise LinkDenied(
                    grpc.StatusCode.INVALID_ARGUMENT, f"at most {MAX_EVENTS} events per report"
                )
            return self._report(relay_id, request)
        except LinkDenied as exc:
            context.abort(exc.code, exc.detail)

    def _report(
        self, relay_id: str, request: archive_pb2.ArchiveReport
    ) -> archive_pb2.ArchiveReportAck:
        with self._ctx.db.system() as system:
            served = set(tenants_of(system, relay_id))
        ack = archive_pb2.ArchiveReportAck()
        for entry in request.events:
            reason = NOT_ASSIGNED if entry.tenant_id not in served else _check(entry)
            if reason is None:
                reason = self._apply(entry)
            ack.results.add(event_id=entry.event_id, accepted=reason is None, reason=reason or "")
        for usage in request.usage:
            if usage.tenant_id not in served:
                continue
            with self._ctx.db.tenant(usage.tenant_id) as session:
                limit = plan_of(session, usage.tenant_id).quotas.archive_bytes
            quota = ack.quotas.add(tenant_id=usage.tenant_id)
            if limit is not None:
                quota.limit_bytes = limit
        return ack

    def _apply(self, entry: archive_pb2.ArchivedEvent) -> str | None:
        """Store or forget one entry; a reason when refused."""
        tenant_id = entry.tenant_id
        with self._ctx.db.system() as system:
            owner = system.scalar(select(Event.tenant_id).where(Event.id == entry.event_id))
            held = system.scalar(
                select(EventArchive.tenant_id).where(EventArchive.event_id == entry.event_id)
            )
        if (owner is not None and owner != tenant_id) or (held is not None and held != tenant_id):
            return OTHER_TENANT
        with self._ctx.db.tenant(tenant_id) as session:
            row = session.get(EventArchive, entry.event_id)
            if entry.deleted:
                if row is not None:
                    session.delete(row)
                return None
            archived_at = entry.archived_at.ToDatetime(dt.UTC)
            if row is None:
                session.add(
                    EventArchive(
                        event_id=entry.event_id,
                        tenant_id=tenant_id,
                        cid=entry.cid,
                        size_bytes=entry.size,
                        archived_at=archived_at,
                    )
                )
            else:
                row.cid, row.size_bytes, row.archived_at = entry.cid, entry.size, archived_at
        return None


def add_archive_ledger(server: grpc.Server, ctx: ControlContext) -> None:
    """Serve ``ArchiveLedger`` on the control plane's link server."""
    archive_pb2_grpc.add_ArchiveLedgerServicer_to_server(ArchiveLedgerServicer(ctx), server)
