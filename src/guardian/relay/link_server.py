"""The edge link's gRPC servers: ``EdgeLink`` and enrolment on two ports.

grpcio's Python API cannot *request* a client certificate without *requiring* one, yet
``Enrollment.Enroll`` must work without and ``EdgeLink`` needs one. So the enrolment port
(``link_port``) is fronted by :class:`TlsFront` (Python ``ssl``, ``CERT_OPTIONAL``: a
presented certificate must chain to the relay CA and be valid, or the handshake fails),
which relays the bytes to a gRPC server on a loopback port and remembers, per relayed
connection, the client certificate. The direct port (``link_direct_port``) serves
``EdgeLink`` alone on grpcio's own mutual TLS, the client certificate required, with no
proxy in between; edges learn it at enrolment and carry their streams and clip uploads
there. Either way the servicers read the call's certificate (the front's record, or the
TLS session's ``auth_context``) and verify it with ``CertificateAuthority.identity_of``
(including revocation) on every call.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from typing import Any

import grpc
from google.protobuf.json_format import MessageToDict
from google.protobuf.timestamp_pb2 import Timestamp

from guardian.common import faults
from guardian.contracts.pb.guardian.v1 import link_pb2, link_pb2_grpc
from guardian.relay.archive.servicer import add_archive
from guardian.relay.config import RelaySettings
from guardian.relay.context import RelayContext
from guardian.relay.enroll import EnrollmentServicer, Redeemer
from guardian.relay.media.transfer import ChunkLike
from guardian.relay.media.wire import parse_clip_chunk
from guardian.relay.pki import CertificateRejected, EdgeIdentity
from guardian.relay.store.cache import EventConflict, store_batch
from guardian.relay.store.edges import store_telemetry, touch
from guardian.relay.summarize import summarize
from guardian.relay.tls_front import PeerCertificates, TlsFront, server_tls_context

logger = logging.getLogger(__name__)

PROTOCOL_VERSION = 1
MAX_BATCH_ITEMS = 200
BEFORE_ACK = "link.relay.before_ack"
_SILENT = object()
EDGE_LINK = link_pb2.DESCRIPTOR.services_by_name["EdgeLink"]


def _iso(ts: Timestamp) -> str:
    return ts.ToDatetime(tzinfo=dt.UTC).isoformat()


def _now_ts(now: dt.datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(now)
    return ts


def event_json(event: link_pb2.Event) -> dict[str, Any]:
    """The edge's outbox JSON of a link ``Event`` (``ValueError`` for bad details JSON)."""
    details = json.loads(event.details_json or "{}")
    if not isinstance(details, dict):
        raise ValueError("details_json must be a JSON object")
    return {
        "id": event.id,
        "type": event.type,
        "source_kind": event.source_kind,
        "source_id": event.source_id,
        "started_at": _iso(event.started_at),
        "ended_at": _iso(event.ended_at),
        "person_count": event.person_count,
        "best_score": event.best_score,
        "details": details,
        "created_at": _iso(event.created_at),
        "updated_at": _iso(event.updated_at),
        "version": event.version,
    }


def _read_into(requests: Iterator[link_pb2.EdgeMessage], inbox: queue.Queue[Any]) -> None:
    try:
        for message in requests:
            inbox.put(message)
    except grpc.RpcError:
        pass
    finally:
        inbox.put(None)


CertificateOf = Callable[[grpc.ServicerContext], bytes | None]
"""The client certificate (DER or PEM) a call came with; None when it came without."""


def fronted_certificate(peers: PeerCertificates) -> CertificateOf:
    """The certificate :class:`TlsFront` recorded for the call's relayed connection."""
    return lambda context: peers.of_peer(context.peer())


def tls_certificate(context: grpc.ServicerContext) -> bytes | None:
    """The certificate (PEM) grpcio's own TLS verified for this call's connection."""
    # A list of values per key at run time (the type stubs say bytes).
    values: object = context.auth_context().get("x509_pem_cert")
    if isinstance(values, list) and values and isinstance(values[0], bytes):
        return values[0]
    return None


class EdgeLinkServicer(link_pb2_grpc.EdgeLinkServicer):
    """``EdgeLink``: the edge's event/telemetry stream and clip uploads, for enrolled edges only."""

    def __init__(self, ctx: RelayContext, certificate_of: CertificateOf) -> None:
        self._ctx = ctx
        self._certificate_of = certificate_of
        self._closing = threading.Event()

    def close(self) -> None:
        """End open streams at their next wake-up."""
        self._closing.set()

    def _identity(self, context: grpc.ServicerContext) -> EdgeIdentity:
        certificate = self._certificate_of(context)
        if certificate is None:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "a client certificate is required")
        try:
            return self._ctx.ca.identity_of(certificate, is_revoked=self._ctx.is_revoked)
        except CertificateRejected as exc:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, str(exc))

    def Connect(
        self, request_iterator: Iterator[link_pb2.EdgeMessage], context: grpc.ServicerContext
    ) -> Iterator[link_pb2.RelayMessage]:
        identity = self._identity(context)
        settings = self._ctx.settings
        interval, dead_after = settings.heartbeat_seconds, settings.dead_link_seconds
        inbox: queue.Queue[Any] = queue.Queue()
        threading.Thread(target=_read_into, args=(request_iterator, inbox), daemon=True).start()
        try:
            first = inbox.get(timeout=dead_after)
        except queue.Empty:
            first = None
        if first is None or first.WhichOneof("body") != "hello":
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, "the stream must start with Hello")
        hello = first.hello
        if hello.site_id and hello.site_id != identity.site_id:
            context.abort(grpc.StatusCode.PERMISSION_DENIED, "Hello names another site")
        self._ctx.connected.opened(identity.site_id, hello.edge_version)
        self._ctx.commands.register(identity.site_id, inbox)
        logger.info("edge connected", extra={"site_id": identity.site_id})
        try:
            yield link_pb2.RelayMessage(welcome=self._welcome())
            yield from self._exchange(identity, inbox, context, interval, dead_after)
        finally:
            self._ctx.commands.unregister(identity.site_id, inbox)
            self._ctx.connected.closed(identity.site_id)
            logger.info("edge disconnected", extra={"site_id": identity.site_id})

    def _welcome(self) -> link_pb2.Welcome:
        return link_pb2.Welcome(
            relay_id=self._ctx.relay_id,
            server_time=_now_ts(self._ctx.clock()),
            heartbeat_interval_s=max(1, round(self._ctx.settings.heartbeat_seconds)),
            protocol_version=PROTOCOL_VERSION,
            max_batch_items=MAX_BATCH_ITEMS,
        )

    def _exchange(
        self,
        identity: EdgeIdentity,
        inbox: queue.Queue[Any],
        context: grpc.ServicerContext,
        interval: float,
        dead_after: float,
    ) -> Iterator[link_pb2.RelayMessage]:
        last_heard = time.monotonic()
        next_beat = last_heard + interval
        seq = 0
        while context.is_active() and not self._closing.is_set():
            try:
                message = inbox.get(timeout=max(0.0, min(next_beat - time.monotonic(), 1.0)))
            except queue.Empty:
                message = _SILENT
            if message is None:
                return
            now = time.monotonic()
            if isinstance(message, link_pb2.Command):
                yield link_pb2.RelayMessage(command=message)
            elif message is not _SILENT:
                last_heard = now
                kind = message.WhichOneof("body")
                if kind == "event_batch":
                    self._identity(context)  # revoked meanwhile: the stream ends here
                    yield link_pb2.RelayMessage(ack=self._store(identity, message.event_batch))
                elif kind == "telemetry":
                    self._telemetry(identity, message.telemetry)
                elif kind == "command_result":
                    self._ctx.commands.result(message.command_result)
            elif now - last_heard > dead_after:
                context.abort(grpc.StatusCode.UNAVAILABLE, "no message within the dead-link time")
            if now >= next_beat:
                self._identity(context)
                seq += 1
                beat = link_pb2.Heartbeat(sent_at=_now_ts(self._ctx.clock()), seq=seq)
                yield link_pb2.RelayMessage(heartbeat=beat)
                with self._ctx.sessions.begin() as session:
                    touch(session, identity.site_id, self._ctx.clock())
                next_beat = now + interval

    def _store(self, identity: EdgeIdentity, batch: link_pb2.EventBatch) -> link_pb2.Ack:
        """Store the batch in one transaction; the Ack is built only after the commit."""
        accepted: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {}  # event, summary
        rejected: list[link_pb2.Rejection] = []
        for item in batch.items:
            try:
                if item.WhichOneof("payload") != "event":
                    raise ValueError("unknown outbox payload")
                event = event_json(item.event)
                summary = summarize(event, tenant_id=identity.tenant_id, site_id=identity.site_id)
            except ValueError as exc:
                rejected.append(link_pb2.Rejection(outbox_id=item.outbox_id, reason=str(exc)))
            else:
                accepted[item.outbox_id] = (event, summary)
        ttl = dt.timedelta(days=self._ctx.settings.cache_days)
        while True:
            now = self._ctx.clock()
            try:
                with self._ctx.sessions.begin() as session:
                    queued = store_batch(
                        session,
                        identity.tenant_id,
                        identity.site_id,
                        [event for event, _ in accepted.values()],
                        now,
                        ttl=ttl,
                        summaries=[summary for _, summary in accepted.values()],
                    )
                    touch(session, identity.site_id, now)
                if queued:
                    self._ctx.forward_wake.set()
                break
            except EventConflict as exc:
                for outbox_id in [o for o, (e, _) in accepted.items() if e["id"] == exc.event_id]:
                    del accepted[outbox_id]
                    rejected.append(link_pb2.Rejection(outbox_id=outbox_id, reason=str(exc)))
        faults.hit(BEFORE_ACK)
        self._ctx.metrics.batches_acked.inc()
        for rejection in rejected:
            logger.warning("rejected an outbox row: %s", rejection.reason)
        return link_pb2.Ack(batch_id=batch.batch_id, outbox_ids=sorted(accepted), rejected=rejected)

    def _telemetry(self, identity: EdgeIdentity, telemetry: link_pb2.Telemetry) -> None:
        payload = MessageToDict(telemetry, preserving_proto_field_name=True)
        now = self._ctx.clock()
        with self._ctx.sessions.begin() as session:
            store_telemetry(
                session,
                site_id=identity.site_id,
                tenant_id=identity.tenant_id,
                payload=payload,
                now=now,
            )
            touch(session, identity.site_id, now)

    def UploadClip(
        self, request_iterator: Iterator[ChunkLike], context: grpc.ServicerContext
    ) -> link_pb2.ClipReceipt:
        identity = self._identity(context)
        return self._ctx.uploads.receive(identity, request_iterator, context)


def add_edge_link(servicer: EdgeLinkServicer, server: grpc.Server) -> None:
    """Serve ``EdgeLink`` as the generated ``add_EdgeLinkServicer_to_server`` does, except
    that ``UploadClip`` messages are read by :func:`parse_clip_chunk`, which leaves the
    media bytes in the received message instead of copying them twice."""
    handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {
        "Connect": grpc.stream_stream_rpc_method_handler(
            servicer.Connect,
            request_deserializer=link_pb2.EdgeMessage.FromString,
            response_serializer=link_pb2.RelayMessage.SerializeToString,
        ),
        "UploadClip": grpc.stream_unary_rpc_method_handler(
            servicer.UploadClip,
            request_deserializer=parse_clip_chunk,
            response_serializer=link_pb2.ClipReceipt.SerializeToString,
        ),
    }
    service = EDGE_LINK.full_name
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service, handlers),))
    server.add_registered_method_handlers(service, handlers)


class LinkServer:
    """The relay's link endpoints: gRPC servicers on loopback behind :class:`TlsFront`
    (``port``) and ``EdgeLink`` on grpcio's mutual TLS (``direct_port``)."""

    def __init__(self, ctx: RelayContext, redeem: Redeemer, *, workers: int = 32) -> None:
        settings = ctx.settings
        tls_dir = settings.data_dir / "tls"
        tls_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        hostnames, ips = _sans(settings.host)
        cert_pem, key_pem = ctx.ca.server_certificate(hostnames, ips)
        cert_path, key_path = tls_dir / "link.crt", tls_dir / "link.key"
        key_path.touch(mode=0o600)
        key_path.write_bytes(key_pem)
        # Leaf plus CA: an edge enrolling without --ca-file pins the CA it is shown (TOFU).
        cert_path.write_bytes(cert_pem + ctx.ca.cert_pem)
        self.peers = PeerCertificates()
        self.direct_link = EdgeLinkServicer(ctx, tls_certificate)
        # No SO_REUSEPORT: a second relay on the port must fail, not share its edges.
        self.direct_server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=workers), options=[("grpc.so_reuseport", 0)]
        )
        add_edge_link(self.direct_link, self.direct_server)
        credentials = grpc.ssl_server_credentials(
            [(key_pem, cert_pem + ctx.ca.cert_pem)],
            root_certificates=ctx.ca.cert_pem,
            require_client_auth=True,
        )
        self.direct_port = self._bind_direct(settings, credentials)
        self.link = EdgeLinkServicer(ctx, fronted_certificate(self.peers))
        self.grpc_server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers))
        add_edge_link(self.link, self.grpc_server)
        link_pb2_grpc.add_EnrollmentServicer_to_server(
            EnrollmentServicer(ctx, redeem, link_port=self.direct_port), self.grpc_server
        )
        self.archive = add_archive(self.grpc_server, ctx, self.peers.of_peer)
        inner_port = self.grpc_server.add_insecure_port("127.0.0.1:0")
        context = server_tls_context(cert_path, key_path, ctx.ca.cert_pem)
        self.front = TlsFront(context, settings.host, settings.link_port, inner_port, self.peers)

    def _bind_direct(self, settings: RelaySettings, credentials: grpc.ServerCredentials) -> int:
        """Bind the direct port; the *default* one (``link_port + 1``) may be taken, and then
        any free port does (edges learn it at enrolment). A configured one must bind."""
        port = settings.resolved_link_direct_port()
        try:
            return self.direct_server.add_secure_port(_address(settings.host, port), credentials)
        except RuntimeError:
            if settings.link_direct_port is not None or port == 0:
                raise
        logger.warning("the default direct link port %d is taken; using a free one", port)
        return self.direct_server.add_secure_port(_address(settings.host, 0), credentials)

    @property
    def port(self) -> int:
        """The TLS port edges enrol at (and older edges link through)."""
        return self.front.port

    def start(self) -> None:
        """Serve."""
        self.direct_server.start()
        self.grpc_server.start()
        self.front.start()
        logger.info(
            "edge link listening", extra={"port": self.port, "direct_port": self.direct_port}
        )

    def stop(self, grace: float = 2.0) -> None:
        """Stop accepting, close the streams, and wait for the servicers."""
        self.link.close()
        self.direct_link.close()
        self.front.stop()
        stopped = [self.direct_server.stop(grace), self.grpc_server.stop(grace)]
        for event in stopped:
            event.wait()


def _address(host: str, port: int) -> str:
    """``host:port`` for grpcio (IPv6 literals in brackets)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _sans(host: str) -> tuple[list[str], list[str]]:
    """The server certificate's names for listen address ``host``."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return [host], []
    return [], [] if address.is_unspecified else [str(address)]
