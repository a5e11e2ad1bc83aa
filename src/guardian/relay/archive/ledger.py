"""Reporting to the control plane: archived events (CID and size), usage, and quota answers.

Called after every upload and deletion and before an upload whose tenant's quota is stale.
A control plane that is down changes nothing: reports stay pending (retried on the next
call) and the last known quota, or the configured default, applies meanwhile.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterable

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy.orm import Session, sessionmaker

from guardian.contracts.pb.guardian.v1 import archive_pb2, archive_pb2_grpc
from guardian.relay.archive import store

logger = logging.getLogger(__name__)

REPORT_TIMEOUT_S = 10.0


def _ts(when: dt.datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(when)
    return stamp


class ArchiveLedgerClient:
    """Sends pending archive reports with the relay's bearer token (one report at a time)."""

    def __init__(
        self,
        channel: grpc.Channel,
        metadata: tuple[tuple[str, str], ...],
        sessions: sessionmaker[Session],
        clock: Callable[[], dt.datetime],
    ) -> None:
        self._stub = archive_pb2_grpc.ArchiveLedgerStub(channel)
        self._metadata = metadata
        self._sessions = sessions
        self._clock = clock
        self._lock = threading.Lock()

    def sync(self, tenant_ids: Iterable[str] = ()) -> bool:
        """Report pending events and usage; store the answered quotas. ``False`` on failure."""
        with self._lock:
            try:
                self._sync(set(tenant_ids))
            except grpc.RpcError as exc:
                code = exc.code() if isinstance(exc, grpc.Call) else None
                logger.warning(
                    "archive report to the control plane failed; it stays pending",
                    extra={"code": getattr(code, "name", str(code))},
                )
                return False
            return True

    def _sync(self, tenant_ids: set[str]) -> None:
        with self._sessions() as session:
            pending = store.unreported(session)
            tenant_ids |= {row.tenant_id for row in pending}
            tenant_ids |= set(store.tenants(session))
            report = archive_pb2.ArchiveReport(
                events=[
                    archive_pb2.ArchivedEvent(
                        event_id=row.event_id,
                        tenant_id=row.tenant_id,
                        cid=row.cid,
                        size=row.size_bytes,
                        archived_at=_ts(row.archived_at),
                        deleted=row.deleted_at is not None,
                    )
                    for row in pending
                ],
                usage=[
                    archive_pb2.TenantArchiveUsage(
                        tenant_id=tenant, used_bytes=store.usage(session, tenant)
                    )
                    for tenant in sorted(tenant_ids)
                ],
            )
            sent = [(row.event_id, row.archived_at) for row in pending]
        if not report.events and not report.usage:
            return
        ack = self._stub.Report(report, timeout=REPORT_TIMEOUT_S, metadata=self._metadata)
        now = self._clock()
        answered = {r.event_id: r for r in ack.results}
        with self._sessions.begin() as session:
            # Refused entries are marked too: the control plane said retrying will not help.
            store.mark_reported(session, [s for s in sent if s[0] in answered], now)
            for quota in ack.quotas:
                limit = quota.limit_bytes if quota.HasField("limit_bytes") else None
                store.set_quota(session, quota.tenant_id, limit, now)
        for result in ack.results:
            if not result.accepted:
                logger.warning(
                    "the control plane refused an archive report",
                    extra={"event_id": result.event_id, "reason": result.reason},
                )
