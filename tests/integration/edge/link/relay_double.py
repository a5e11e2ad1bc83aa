"""A minimal real relay for edge link tests: gRPC over TLS with the relay CA, in-memory store.

``EdgeLink`` runs on a port that requires a client certificate from the CA (checked with
``identity_of`` and a revocation set on every call); ``Enrollment`` runs on its own port
without client auth and presents the CA in its chain, so trust on first use can pin it, and
names the EdgeLink port in its answer (as the relay names its direct port).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass, field
from typing import cast

import grpc

from guardian.contracts.pb.guardian.v1 import link_pb2, link_pb2_grpc
from guardian.relay.pki import CertificateAuthority, CertificateRejected, RevocationSet

SITE = "3f2a9c1e-8b7d-4e6f-a5c4-1d2e3f4a5b6c"
TENANT = "acme"
RELAY_ID = "relay-1"


@dataclass
class RelayState:
    """What the relay kept; shared across restarts of the server."""

    events: dict[str, link_pb2.Event] = field(default_factory=dict)
    batches: list[tuple[int, ...]] = field(default_factory=list)
    telemetry: list[link_pb2.Telemetry] = field(default_factory=list)
    hellos: list[link_pb2.Hello] = field(default_factory=list)
    results: list[link_pb2.CommandResult] = field(default_factory=list)
    uploads: dict[str, bytes] = field(default_factory=dict)
    commands: queue.Queue[link_pb2.Command] = field(default_factory=queue.Queue)
    tokens: dict[str, bool] = field(default_factory=dict)  # token -> used
    lock: threading.Lock = field(default_factory=threading.Lock)


class FakeRelay(link_pb2_grpc.EdgeLinkServicer, link_pb2_grpc.EnrollmentServicer):
    """Stores batches, acks them after storing (unless told not to), answers heartbeats."""

    def __init__(
        self,
        ca: CertificateAuthority,
        state: RelayState,
        revoked: RevocationSet,
        *,
        ack: bool = True,
        heartbeat_s: int = 1,
        before_ack: Callable[[tuple[int, ...]], None] | None = None,
    ) -> None:
        self.ca, self.state, self.revoked = ca, state, revoked
        self.link_port = 0  # told to enrolling edges; set by RelayServer
        self.ack = ack
        self.heartbeat_s = heartbeat_s
        self.before_ack = before_ack

    def _identify(self, context: grpc.ServicerContext) -> None:
        pems = cast("list[bytes]", context.auth_context().get("x509_pem_cert", []))
        if not pems:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "a client certificate is required")
        try:
            self.ca.identity_of(pems[0], is_revoked=self.revoked)
        except CertificateRejected as exc:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, str(exc))

    def Connect(
        self, request_iterator: Iterator[link_pb2.EdgeMessage], context: grpc.ServicerContext
    ) -> Iterator[link_pb2.RelayMessage]:
        self._identify(context)
        first = next(request_iterator)
        self.state.hellos.append(first.hello)
        yield link_pb2.RelayMessage(
            welcome=link_pb2.Welcome(
                relay_id=RELAY_ID, heartbeat_interval_s=self.heartbeat_s, protocol_version=1
            )
        )
        for message in request_iterator:
            kind = message.WhichOneof("body")
            if kind == "event_batch":
                ids = tuple(i.outbox_id for i in message.event_batch.items)
                with self.state.lock:
                    self.state.batches.append(ids)
                    for item in message.event_batch.items:
                        self.state.events[item.event.id] = item.event
                if self.before_ack is not None:
                    self.before_ack(ids)
                if self.ack:
                    ack = link_pb2.Ack(batch_id=message.event_batch.batch_id, outbox_ids=ids)
                    yield link_pb2.RelayMessage(ack=ack)
            elif kind == "heartbeat":
                yield link_pb2.RelayMessage(heartbeat=link_pb2.Heartbeat(seq=message.heartbeat.seq))
            elif kind == "telemetry":
                self.state.telemetry.append(message.telemetry)
            elif kind == "command_result":
                self.state.results.append(message.command_result)
            while not self.state.commands.empty():
                yield link_pb2.RelayMessage(command=self.state.commands.get_nowait())

    def UploadClip(
        self, request_iterator: Iterator[link_pb2.ClipChunk], context: grpc.ServicerContext
    ) -> link_pb2.ClipReceipt:
        self._identify(context)
        data, event_id = b"", ""
        for chunk in request_iterator:
            assert chunk.offset == len(data)
            data += chunk.data
            event_id = chunk.event_id
        self.state.uploads[event_id] = data
        return link_pb2.ClipReceipt(event_id=event_id, received_bytes=len(data), complete=True)

    def Enroll(
        self, request: link_pb2.EnrollRequest, context: grpc.ServicerContext
    ) -> link_pb2.EnrollResponse:
        with self.state.lock:
            used = self.state.tokens.get(request.bootstrap_token)
            if used is None or used:
                context.abort(
                    grpc.StatusCode.PERMISSION_DENIED,
                    "bootstrap token already used" if used else "unknown bootstrap token",
                )
            self.state.tokens[request.bootstrap_token] = True
        issued = self.ca.issue_client_certificate(
            request.csr_pem.encode(), site_id=SITE, tenant_id=TENANT
        )
        response = link_pb2.EnrollResponse(
            certificate_chain_pem=issued.cert_pem.decode(),
            ca_pem=self.ca.cert_pem.decode(),
            site_id=SITE,
            tenant_id=TENANT,
            relay_id=RELAY_ID,
            link_port=self.link_port,
        )
        response.not_after.FromDatetime(issued.not_after)
        return response


class RelayServer:
    """The fake relay's two gRPC ports on 127.0.0.1; ``link_port`` may be fixed for a restart."""

    def __init__(self, relay: FakeRelay, link_port: int = 0) -> None:
        cert_pem, key_pem = relay.ca.server_certificate([], [])
        chain = cert_pem + relay.ca.cert_pem  # the CA travels in the chain for TOFU
        self.link = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        link_pb2_grpc.add_EdgeLinkServicer_to_server(relay, self.link)
        self.link_port = self.link.add_secure_port(
            f"127.0.0.1:{link_port}",
            grpc.ssl_server_credentials(
                [(key_pem, chain)], root_certificates=relay.ca.cert_pem, require_client_auth=True
            ),
        )
        relay.link_port = self.link_port
        self.enroll = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        link_pb2_grpc.add_EnrollmentServicer_to_server(relay, self.enroll)
        self.enroll_port = self.enroll.add_secure_port(
            "127.0.0.1:0", grpc.ssl_server_credentials([(key_pem, chain)])
        )

    def __enter__(self) -> RelayServer:
        self.link.start()
        self.enroll.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        self.link.stop(None).wait(5)
        self.enroll.stop(None).wait(5)
