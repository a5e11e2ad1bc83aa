"""The control plane's gRPC ``ControlLink`` server: summaries, health and enrolment for relays.

Every call is authenticated by ``authorization: Bearer <relay token>`` call metadata, looked
up on each call, so a deleted or rotated relay is cut off at once. The handlers reuse the
HTTP ingest code (``POST /api/v1/ingest/events`` and ``/ingest/telemetry``); only the wire
conversion lives here.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable
from concurrent import futures
from typing import TypeVar

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from pydantic import ValidationError
from sqlalchemy import select

from guardian.contracts.pb.guardian.v1 import control_pb2, control_pb2_grpc
from guardian.control.api.ingest import ingest_events
from guardian.control.auth.principal import RelayPrincipal
from guardian.control.config import ControlSettings
from guardian.control.context import ControlContext
from guardian.control.inventory.schemas import MAX_BATCH, EventSummaryIn, IngestBatch
from guardian.control.store.tables import BootstrapToken, Relay, Site
from guardian.control.tenancy.relays import relay_serves, tenants_of, touch_relay
from guardian.control.tenancy.schemas import EDGE_FIGURES, TelemetryIn
from guardian.control.tenancy.sites import BootstrapTokenRejected, redeem_bootstrap_token
from guardian.control.tenancy.telemetry import apply_telemetry
from guardian.control.tenancy.tokens import sha256_hex
from guardian.control.tenancy.views import now_of

logger = logging.getLogger(__name__)

MAX_WORKERS = 8
NOT_ASSIGNED = "relay is not assigned to this tenant"
SITE_GONE = "no such site (deleted)"
UNKNOWN_TOKEN = "unknown bootstrap token"
NOT_OUR_TENANT = "the bootstrap token's tenant is not a tenant of this relay"

_CONFIDENCE: dict[int, str] = {
    control_pb2.CONFIDENCE_LOW: "low",
    control_pb2.CONFIDENCE_MEDIUM: "medium",
    control_pb2.CONFIDENCE_HIGH: "high",
}
_STATE: dict[int, str] = {
    control_pb2.EVENT_STATE_ACTIVE: "active",
    control_pb2.EVENT_STATE_ENDED: "ended",
}
_SOURCE: dict[int, str] = {
    control_pb2.SOURCE_KIND_CAMERA: "camera",
    control_pb2.SOURCE_KIND_DEVICE: "device",
}
_HEALTH: dict[int, str] = {
    control_pb2.HEALTH_HEALTHY: "healthy",
    control_pb2.HEALTH_DEGRADED: "degraded",
    control_pb2.HEALTH_OFFLINE: "offline",
}
_STATUS = {
    "created": control_pb2.SUMMARY_STATUS_CREATED,
    "updated": control_pb2.SUMMARY_STATUS_UPDATED,
    "unchanged": control_pb2.SUMMARY_STATUS_UNCHANGED,
    "stale": control_pb2.SUMMARY_STATUS_STALE,
    "rejected": control_pb2.SUMMARY_STATUS_REJECTED,
}


class LinkDenied(Exception):
    """A call refused with a gRPC status code and a detail for the relay."""

    def __init__(self, code: grpc.StatusCode, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


# --- wire conversion (pure) ---------------------------------------------------------------


def _when(stamp: Timestamp | None, name: str) -> dt.datetime:
    if stamp is None:
        raise ValueError(f"{name} is not set")
    return stamp.ToDatetime(dt.UTC)


def _word(mapping: dict[int, str], value: int, name: str) -> str:
    if value not in mapping:
        raise ValueError(f"{name} is not set or unknown ({value})")
    return mapping[value]


def _validation_reason(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "summary"
    return f"invalid {where}: {first['msg']}"


def summary_in(message: control_pb2.EventSummary) -> EventSummaryIn:
    """The ingest schema of a wire summary; ``ValueError`` (or ``ValidationError``) if invalid."""
    return EventSummaryIn(
        id=message.id,
        tenant_id=message.tenant_id,
        site_id=message.site_id,
        source_kind=_word(_SOURCE, message.source_kind, "source_kind"),
        source_name=message.source_name,
        type=message.type,
        label=message.label if message.HasField("label") else None,
        zone=message.zone if message.HasField("zone") else None,
        dwell_s=message.dwell_s if message.HasField("dwell_s") else None,
        person_count=message.person_count,
        confidence=_word(_CONFIDENCE, message.confidence, "confidence"),
        state=_word(_STATE, message.state, "state"),
        started_at=_when(
            message.started_at if message.HasField("started_at") else None, "started_at"
        ),
        ended_at=_when(message.ended_at if message.HasField("ended_at") else None, "ended_at"),
        version=message.version,
    )


def telemetry_in(at: dt.datetime, message: control_pb2.SiteHealth) -> TelemetryIn:
    """The telemetry schema of one site's wire health; ``ValueError`` if invalid."""
    site: dict[str, object] = {
        "health": _word(_HEALTH, message.health, "health"),
        "version": message.edge_version or None,
    }
    if message.HasField("last_seen_at"):
        site["edge_last_seen_at"] = message.last_seen_at.ToDatetime(dt.UTC).isoformat()
    for name in EDGE_FIGURES:
        if message.HasField(name):
            site[name] = getattr(message, name)
    cameras = [
        {
            "name": camera.name,
            "state": camera.state,
            "input_fps": camera.input_fps if camera.HasField("input_fps") else None,
            "detect_fps": camera.detect_fps if camera.HasField("detect_fps") else None,
            "recording": camera.recording or None,
        }
        for camera in message.cameras
    ]
    return TelemetryIn.model_validate(
        {
            "tenant_id": message.tenant_id,
            "site_id": message.site_id,
            "at": at,
            "site": site,
            "cameras": cameras,
        }
    )


# --- the servicer ---------------------------------------------------------------------------

_Request = TypeVar("_Request")
_Response = TypeVar("_Response")
_Handler = Callable[["ControlLinkServicer", _Request, grpc.ServicerContext], _Response]


def _guarded(handler: _Handler[_Request, _Response]) -> _Handler[_Request, _Response]:
    """Map ``LinkDenied`` to its status and log unexpected failures (``INTERNAL``)."""

    @functools.wraps(handler)
    def call(
        self: ControlLinkServicer, request: _Request, context: grpc.ServicerContext
    ) -> _Response:
        try:
            return handler(self, request, context)
        except LinkDenied as exc:
            context.abort(exc.code, exc.detail)
        except Exception:
            logger.exception("control link call failed", extra={"rpc": handler.__name__})
            context.abort(grpc.StatusCode.INTERNAL, "internal error")

    return call


def bearer_of(context: grpc.ServicerContext) -> str:
    """The bearer token of the call's ``authorization`` metadata (``LinkDenied`` if none)."""
    for key, value in context.invocation_metadata():
        if key == "authorization" and isinstance(value, str):
            scheme, _, token = value.partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    raise LinkDenied(grpc.StatusCode.UNAUTHENTICATED, "missing bearer relay token")


class ControlLinkServicer(control_pb2_grpc.ControlLinkServicer):
    """``ControlLink`` on top of the control plane's store."""

    def __init__(self, ctx: ControlContext) -> None:
        self._ctx = ctx

    def _relay(self, context: grpc.ServicerContext) -> RelayPrincipal:
        digest = sha256_hex(bearer_of(context))
        with self._ctx.db.system() as session:
            row = session.execute(
                select(Relay.id, Relay.name).where(Relay.token_sha256 == digest)
            ).first()
        if row is None:
            raise LinkDenied(grpc.StatusCode.UNAUTHENTICATED, "unknown relay token")
        return RelayPrincipal(relay_id=row.id, name=row.name)

    @_guarded
    def PushSummaries(
        self, request: control_pb2.SummaryBatch, context: grpc.ServicerContext
    ) -> control_pb2.SummaryAck:
        relay = self._relay(context)
        if len(request.events) > MAX_BATCH:
            raise LinkDenied(
                grpc.StatusCode.INVALID_ARGUMENT, f"at most {MAX_BATCH} summaries per batch"
            )
        results: dict[int, control_pb2.SummaryResult] = {}
        valid: list[tuple[int, EventSummaryIn]] = []
        for index, message in enumerate(request.events):
            try:
                valid.append((index, summary_in(message)))
            except ValidationError as exc:
                results[index] = _rejected(message.id, _validation_reason(exc))
            except ValueError as exc:
                results[index] = _rejected(message.id, str(exc))
        batch = IngestBatch(events=[summary for _, summary in valid])
        done = ingest_events(batch, relay, self._ctx).results
        for (index, _), result in zip(valid, done, strict=True):
            results[index] = control_pb2.SummaryResult(
                id=result.id, status=_STATUS[result.status], reason=result.reason or ""
            )
        return control_pb2.SummaryAck(
            batch_id=request.batch_id, results=[results[i] for i in range(len(request.events))]
        )

    @_guarded
    def PushHealth(
        self, request: control_pb2.HealthReport, context: grpc.ServicerContext
    ) -> control_pb2.HealthAck:
        relay = self._relay(context)
        now = now_of(self._ctx)
        at = request.at.ToDatetime(dt.UTC) if request.HasField("at") else now
        with self._ctx.db.system() as system:
            served = set(tenants_of(system, relay.relay_id))
            touch_relay(system, relay.relay_id, now)
        ack = control_pb2.HealthAck()
        for message in request.sites:
            result = ack.results.add(site_id=message.site_id)
            if message.tenant_id not in served:
                result.reason = NOT_ASSIGNED
                continue
            try:
                report = telemetry_in(at, message)
            except ValidationError as exc:
                result.reason = _validation_reason(exc)
                continue
            except ValueError as exc:
                result.reason = str(exc)
                continue
            with self._ctx.db.tenant(report.tenant_id) as session:
                site = session.scalar(
                    select(Site).where(
                        Site.tenant_id == report.tenant_id, Site.id == report.site_id
                    )
                )
                if site is None:
                    result.reason = SITE_GONE
                    ack.revoked_site_ids.append(message.site_id)
                    continue
                apply_telemetry(session, site, report, now)
            result.accepted = True
        return ack

    @_guarded
    def RedeemBootstrap(
        self, request: control_pb2.RedeemRequest, context: grpc.ServicerContext
    ) -> control_pb2.RedeemResponse:
        relay = self._relay(context)
        token = request.bootstrap_token.strip()
        with self._ctx.db.system() as system:
            tenant_id = system.scalar(
                select(BootstrapToken.tenant_id).where(
                    BootstrapToken.token_sha256 == sha256_hex(token)
                )
            )
            if tenant_id is None:
                raise LinkDenied(grpc.StatusCode.PERMISSION_DENIED, UNKNOWN_TOKEN)
            if not relay_serves(system, relay.relay_id, tenant_id):
                raise LinkDenied(grpc.StatusCode.PERMISSION_DENIED, NOT_OUR_TENANT)
        try:
            with self._ctx.db.tenant(tenant_id) as session:
                site = redeem_bootstrap_token(session, token, now_of(self._ctx))
                response = control_pb2.RedeemResponse(
                    site_id=site.id, tenant_id=site.tenant_id, site_name=site.name
                )
        except BootstrapTokenRejected as exc:
            raise LinkDenied(grpc.StatusCode.PERMISSION_DENIED, exc.message) from exc
        logger.info(
            "bootstrap token redeemed",
            extra={"relay_id": relay.relay_id, "site_id": response.site_id},
        )
        return response


def _rejected(event_id: str, reason: str) -> control_pb2.SummaryResult:
    return control_pb2.SummaryResult(
        id=event_id, status=control_pb2.SUMMARY_STATUS_REJECTED, reason=reason
    )


# --- the server -----------------------------------------------------------------------------


def start_control_link(
    ctx: ControlContext,
    host: str,
    port: int,
    *,
    credentials: grpc.ServerCredentials | None = None,
) -> tuple[grpc.Server, int]:
    """Start ``ControlLink`` on ``host:port`` (0: any free port); returns (server, bound port).

    Plaintext unless ``credentials`` are given: put it behind TLS when it is not on loopback.
    """
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=MAX_WORKERS))
    control_pb2_grpc.add_ControlLinkServicer_to_server(ControlLinkServicer(ctx), server)
    from guardian.control.archive.ledger import add_archive_ledger

    add_archive_ledger(server, ctx)  # guardian.control.archive: relays' archive reports
    address = f"{host}:{port}"
    if credentials is None:
        bound = server.add_insecure_port(address)
    else:
        bound = server.add_secure_port(address, credentials)
    server.start()
    logger.info("control link listening", extra={"host": host, "port": bound})
    return server, bound


class LinkTlsError(ValueError):
    """The configured TLS certificate or key of the relay link cannot be used."""


def server_credentials(settings: ControlSettings) -> grpc.ServerCredentials | None:
    """TLS credentials from ``grpc_tls_cert_file``/``grpc_tls_key_file``; None when unset."""
    if settings.grpc_tls_cert_file is None or settings.grpc_tls_key_file is None:
        return None
    try:
        chain = settings.grpc_tls_cert_file.read_bytes()
        key = settings.grpc_tls_key_file.read_bytes()
    except OSError as exc:
        raise LinkTlsError(f"cannot read the relay link's TLS files: {exc}") from exc
    if b"-----BEGIN CERTIFICATE-----" not in chain or b"PRIVATE KEY-----" not in key:
        raise LinkTlsError("grpc_tls_cert_file/grpc_tls_key_file must hold a PEM chain and key")
    return grpc.ssl_server_credentials([(key, chain)])


def serve_control_link(ctx: ControlContext, port: int) -> grpc.Server:
    """Start ``ControlLink`` on the settings' host and ``port``; stop it with ``stop()``.

    TLS when the settings name a certificate and key; plaintext (with a warning unless the
    host is loopback) otherwise.
    """
    credentials = server_credentials(ctx.settings)
    if credentials is None and ctx.settings.host not in {"127.0.0.1", "::1", "localhost"}:
        logger.warning(
            "the relay link listens without TLS on a non-loopback address; "
            "set grpc_tls_cert_file and grpc_tls_key_file",
            extra={"host": ctx.settings.host},
        )
    server, _bound = start_control_link(ctx, ctx.settings.host, port, credentials=credentials)
    return server
