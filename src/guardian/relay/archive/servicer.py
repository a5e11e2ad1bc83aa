"""``Archive`` on the relay's link port: sealed uploads by CID, restore, usage and quota.

Edges authenticate with their link client certificate (tenant and site come from it);
``Get`` and ``Stat`` also take a relay admin token (``authorization: Bearer gra_…``), for
restoring without the edge. A blob is staged under ``<data_dir>/archive/incoming``, its
CID recomputed from the bytes received, then put in the backend (which re-hashes what it
stored) and only then recorded; a relay that dies mid-upload leaves a staged file that the
next start removes, and the edge retries.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from guardian.archive.cid import check_cid, cid_of_digest
from guardian.contracts.pb.guardian.v1 import archive_pb2, archive_pb2_grpc
from guardian.relay.archive import store
from guardian.relay.archive.backends import (
    BlobBackend,
    BlobMissing,
    BlobStoreError,
    build_backend,
)
from guardian.relay.archive.ledger import ArchiveLedgerClient
from guardian.relay.archive.quota import Quota, QuotaExceeded, require_fits
from guardian.relay.context import RelayContext
from guardian.relay.pki import CertificateRejected

logger = logging.getLogger(__name__)

INCOMING_DIR = "archive/incoming"
ADMIN = "relay-admin"


class UploadRefused(Exception):
    """A malformed upload (INVALID_ARGUMENT)."""


@dataclass(frozen=True, slots=True)
class Caller:
    """Who calls: an edge (tenant and site) or a relay admin (``tenant_id`` None: any)."""

    tenant_id: str | None
    site_id: str | None


def _ts(when: object) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(when)  # type: ignore[arg-type]
    return stamp


def _bearer(context: grpc.ServicerContext) -> str | None:
    for key, value in context.invocation_metadata():
        if key == "authorization" and isinstance(value, str):
            scheme, _, token = value.partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    return None


class ArchiveServicer(archive_pb2_grpc.ArchiveServicer):
    """Stores and serves a tenant's sealed blobs."""

    def __init__(
        self,
        ctx: RelayContext,
        certificate_of: Callable[[str], bytes | None],
        backend: BlobBackend,
        ledger: ArchiveLedgerClient | None,
    ) -> None:
        self._ctx = ctx
        self._certificate_of = certificate_of
        self.backend = backend
        self.ledger = ledger
        self._settings = ctx.settings.archive
        self._incoming = ctx.settings.data_dir / INCOMING_DIR
        self._incoming.mkdir(parents=True, exist_ok=True)
        for stale in self._incoming.glob("*.part"):  # a relay that died mid-upload
            stale.unlink(missing_ok=True)
        self._commit_lock = threading.Lock()

    # --- who calls ----------------------------------------------------------------------

    def _caller(self, context: grpc.ServicerContext, *, admin_ok: bool) -> Caller:
        der = self._certificate_of(context.peer())
        if der is not None:
            try:
                identity = self._ctx.ca.identity_of(der, is_revoked=self._ctx.is_revoked)
            except CertificateRejected as exc:
                context.abort(grpc.StatusCode.UNAUTHENTICATED, str(exc))
            return Caller(identity.tenant_id, identity.site_id)
        token = _bearer(context)
        if admin_ok and token is not None and self._ctx.admin_tokens.verify(token):
            return Caller(None, None)
        what = "a client certificate or a relay admin token" if admin_ok else "a client certificate"
        context.abort(grpc.StatusCode.UNAUTHENTICATED, f"{what} is required")

    # --- quota --------------------------------------------------------------------------

    def quota(self, tenant_id: str) -> Quota:
        """The tenant's quota, asked of the control plane first when the known one is stale."""
        settings = self._settings
        with self._ctx.sessions() as session:
            known = store.quota_of(
                session,
                tenant_id,
                default=settings.default_quota_bytes,
                now=self._ctx.clock(),
                ttl=settings.quota_refresh_seconds,
            )
        if known.fresh or self.ledger is None or not self.ledger.sync([tenant_id]):
            return known
        with self._ctx.sessions() as session:
            return store.quota_of(
                session,
                tenant_id,
                default=settings.default_quota_bytes,
                now=self._ctx.clock(),
                ttl=settings.quota_refresh_seconds,
            )

    # --- RPCs ---------------------------------------------------------------------------

    def Upload(
        self, request_iterator: Iterator[archive_pb2.UploadRequest], context: grpc.ServicerContext
    ) -> archive_pb2.UploadReceipt:
        caller = self._caller(context, admin_ok=False)
        assert caller.tenant_id is not None and caller.site_id is not None
        try:
            return self._upload(caller.tenant_id, caller.site_id, request_iterator)
        except QuotaExceeded as exc:
            logger.info("archive upload over quota", extra={"tenant_id": caller.tenant_id})
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc))
        except UploadRefused as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        except BlobStoreError as exc:
            logger.error("archive blob store failed: %s", exc)
            context.abort(grpc.StatusCode.UNAVAILABLE, "the relay's blob store failed; retry")

    def _upload(
        self, tenant_id: str, site_id: str, requests: Iterator[archive_pb2.UploadRequest]
    ) -> archive_pb2.UploadReceipt:
        first = next(requests, None)
        if first is None or first.WhichOneof("body") != "start":
            raise UploadRefused("the upload must start with UploadStart")
        start = first.start
        try:
            event_id = str(uuid.UUID(start.event_id))
            cid = check_cid(start.cid)
        except ValueError as exc:
            raise UploadRefused(f"bad UploadStart: {exc}") from exc
        if start.size > self._settings.max_blob_bytes:
            raise UploadRefused(f"the blob is larger than {self._settings.max_blob_bytes} bytes")
        with self._ctx.sessions() as session:
            held = store.find_object(session, tenant_id, cid) is not None
        if not held:
            limit = self.quota(tenant_id).limit
            with self._ctx.sessions() as session:
                require_fits(store.usage(session, tenant_id), start.size, limit)
            staged = self._receive(cid, start.size, requests)
            try:
                self.backend.put(cid, staged)
            finally:
                staged.unlink(missing_ok=True)
        receipt = self._commit(tenant_id, site_id, event_id, cid, start.size)
        receipt.already_stored = held
        if self.ledger is not None:
            self.ledger.sync([tenant_id])
        logger.info(
            "archive blob stored",
            extra={"tenant_id": tenant_id, "cid": cid, "size": start.size, "again": held},
        )
        return receipt

    def _receive(self, cid: str, size: int, requests: Iterator[archive_pb2.UploadRequest]) -> Path:
        staged = self._incoming / f"{uuid.uuid4().hex}.part"
        digest = hashlib.sha256()
        received = 0
        try:
            with staged.open("wb") as handle:
                for message in requests:
                    if message.WhichOneof("body") != "data":
                        raise UploadRefused("only data may follow UploadStart")
                    received += len(message.data)
                    if received > size:
                        raise UploadRefused(f"more bytes than the announced {size}")
                    digest.update(message.data)
                    handle.write(message.data)
            if received != size:
                raise UploadRefused(f"received {received} bytes of the announced {size}")
            actual = cid_of_digest(digest.digest())
            if actual != cid:
                raise UploadRefused(f"the bytes received hash to {actual}, not {cid}")
        except BaseException:
            staged.unlink(missing_ok=True)
            raise
        return staged

    def _commit(
        self, tenant_id: str, site_id: str, event_id: str, cid: str, size: int
    ) -> archive_pb2.UploadReceipt:
        limit = self.quota(tenant_id).limit
        now = self._ctx.clock()
        with self._commit_lock, self._ctx.sessions.begin() as session:
            obj = store.find_object(session, tenant_id, cid)
            if obj is None:
                # Checked again: another upload of the tenant may have committed meanwhile.
                require_fits(store.usage(session, tenant_id), size, limit)
                obj = store.add_object(session, tenant_id, cid, size, now)
            try:
                store.record_event(
                    session,
                    event_id=event_id,
                    tenant_id=tenant_id,
                    site_id=site_id,
                    cid=cid,
                    size=obj.size_bytes,
                    now=now,
                )
            except ValueError as exc:
                raise UploadRefused(str(exc)) from exc
            session.flush()
            receipt = archive_pb2.UploadReceipt(
                cid=cid,
                size=obj.size_bytes,
                stored_at=_ts(obj.stored_at),
                used_bytes=store.usage(session, tenant_id),
            )
        if limit is not None:
            receipt.quota_bytes = limit
        return receipt

    def Get(
        self, request: archive_pb2.GetBlobRequest, context: grpc.ServicerContext
    ) -> Iterator[archive_pb2.BlobChunk]:
        caller = self._caller(context, admin_ok=True)
        try:
            cid = check_cid(request.cid)
        except ValueError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        with self._ctx.sessions() as session:
            obj = (
                store.find_any_object(session, cid)
                if caller.tenant_id is None
                else store.find_object(session, caller.tenant_id, cid)
            )
        if obj is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"no archived blob {cid}")
        try:
            pieces = self.backend.read(cid)
            for piece in pieces:
                yield archive_pb2.BlobChunk(data=piece)
        except BlobMissing:
            logger.error("archived blob missing from the backend", extra={"cid": cid})
            context.abort(grpc.StatusCode.DATA_LOSS, f"the relay lost blob {cid}")
        except BlobStoreError as exc:
            logger.error("archive blob store failed: %s", exc)
            context.abort(grpc.StatusCode.UNAVAILABLE, "the relay's blob store failed; retry")

    def Stat(
        self, request: archive_pb2.StatRequest, context: grpc.ServicerContext
    ) -> archive_pb2.StatResponse:
        caller = self._caller(context, admin_ok=True)
        response = archive_pb2.StatResponse(cid=request.cid)
        tenant_id = caller.tenant_id
        with self._ctx.sessions() as session:
            if request.cid:
                try:
                    check_cid(request.cid)
                except ValueError as exc:
                    context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
                obj = (
                    store.find_any_object(session, request.cid)
                    if tenant_id is None
                    else store.find_object(session, tenant_id, request.cid)
                )
                if obj is not None:
                    response.exists, response.size = True, obj.size_bytes
                    response.stored_at.CopyFrom(_ts(obj.stored_at))
                    tenant_id = obj.tenant_id
            if tenant_id is not None:
                response.used_bytes = store.usage(session, tenant_id)
        if tenant_id is not None:
            limit = self.quota(tenant_id).limit
            if limit is not None:
                response.quota_bytes = limit
        return response


def add_archive(
    server: grpc.Server, ctx: RelayContext, certificate_of: Callable[[str], bytes | None]
) -> ArchiveServicer:
    """Build the archive servicer from the relay's settings and add it to ``server``."""
    ledger = None
    if ctx.control is not None:
        ledger = ArchiveLedgerClient(
            ctx.control.channel, ctx.control.metadata, ctx.sessions, ctx.clock
        )
    backend = build_backend(ctx.settings.archive, ctx.settings.data_dir)
    servicer = ArchiveServicer(ctx, certificate_of, backend, ledger)
    archive_pb2_grpc.add_ArchiveServicer_to_server(servicer, server)
    return servicer
