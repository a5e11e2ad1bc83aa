"""The relay's edge link on loopback: enrolment, mutual TLS, event batches, acks, revocation.

EdgeLink is served on both of the relay's link ports: behind the TLS front (the enrolment
port, for edges enrolled before the direct port existed) and on the direct port (grpcio's
own mutual TLS); the identity checks must be the same on both.
"""

from __future__ import annotations

import datetime as dt
import json
import queue
import socket
import uuid
from collections.abc import Iterator
from concurrent import futures
from dataclasses import replace
from pathlib import Path

import grpc
import pytest
from sqlalchemy import func, select

from guardian.contracts.pb.guardian.v1 import control_pb2, control_pb2_grpc, link_pb2, link_pb2_grpc
from guardian.edge.link.identity import EdgeIdentityFiles
from guardian.relay.context import ControlClient, ControlTarget, RelayContext
from guardian.relay.enroll import control_redeemer
from guardian.relay.link_server import LinkServer
from guardian.relay.pki import CertificateAuthority
from guardian.relay.store.edges import get_edge, revoke_site
from guardian.relay.store.tables import CachedEvent, ForwardQueue
from tests.relay_fixtures import RelayDb

SITE = str(uuid.uuid4())
TENANT = str(uuid.uuid4())
RELAY_TOKEN = "grl_test-relay-token"
TIMEOUT = 5.0


class FakeControl(control_pb2_grpc.ControlLinkServicer):
    """A real ControlLink server with one single-use bootstrap token."""

    def __init__(self) -> None:
        self.tokens = {"gbt_good": (SITE, TENANT)}

    def RedeemBootstrap(
        self, request: control_pb2.RedeemRequest, context: grpc.ServicerContext
    ) -> control_pb2.RedeemResponse:
        if ("authorization", f"Bearer {RELAY_TOKEN}") not in context.invocation_metadata():
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "unknown relay")
        found = self.tokens.pop(request.bootstrap_token, None)
        if found is None:
            context.abort(grpc.StatusCode.PERMISSION_DENIED, "bootstrap token used or unknown")
        return control_pb2.RedeemResponse(site_id=found[0], tenant_id=found[1], site_name="shop")

    def PushSummaries(
        self, request: control_pb2.SummaryBatch, context: grpc.ServicerContext
    ) -> control_pb2.SummaryAck:
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "not used here")

    def PushHealth(
        self, request: control_pb2.HealthReport, context: grpc.ServicerContext
    ) -> control_pb2.HealthAck:
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "not used here")


@pytest.fixture
def control() -> Iterator[ControlClient]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    control_pb2_grpc.add_ControlLinkServicer_to_server(FakeControl(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    client = ControlClient(ControlTarget(f"127.0.0.1:{port}", tls=False), RELAY_TOKEN)
    yield client
    client.close()
    server.stop(0).wait()


@pytest.fixture
def ctx(sqlite_relay_db: RelayDb, control: ControlClient) -> RelayContext:
    settings = sqlite_relay_db.settings.model_copy(
        update={"link_port": 0, "heartbeat_seconds": 0.5, "dead_link_seconds": 2.0}
    )
    ca = CertificateAuthority.load_or_create(settings.data_dir / "ca", name="relay test")
    return RelayContext(settings, sqlite_relay_db.engine, ca, control)


@pytest.fixture
def link(ctx: RelayContext) -> Iterator[LinkServer]:
    server = LinkServer(ctx, control_redeemer(ctx.control), workers=8)
    server.start()
    yield server
    server.stop(grace=0)


def _channel(port: int, root: bytes, files: EdgeIdentityFiles | None = None) -> grpc.Channel:
    if files is None:
        creds = grpc.ssl_channel_credentials(root)
    else:
        creds = grpc.ssl_channel_credentials(
            root, files.key_path.read_bytes(), files.cert_path.read_bytes()
        )
    return grpc.secure_channel(f"localhost:{port}", creds)


def _enroll(link: LinkServer, ctx: RelayContext, directory: Path) -> EdgeIdentityFiles:
    files = EdgeIdentityFiles(directory)
    with _channel(link.port, ctx.ca.cert_pem) as channel:
        answer = link_pb2_grpc.EnrollmentStub(channel).Enroll(
            link_pb2.EnrollRequest(
                bootstrap_token="gbt_good", csr_pem=files.create_csr().decode(), hostname="h"
            ),
            timeout=TIMEOUT,
        )
    files.store(answer.certificate_chain_pem.encode(), answer.ca_pem.encode())
    assert (answer.site_id, answer.tenant_id) == (SITE, TENANT)
    assert answer.link_port == link.direct_port != link.port
    return files


PORTS = pytest.mark.parametrize("which", ["front", "direct"])


def _port(link: LinkServer, which: str) -> int:
    return link.port if which == "front" else link.direct_port


def _event(version: int = 1, event_id: str | None = None) -> link_pb2.Event:
    event = link_pb2.Event(
        id=event_id or str(uuid.uuid4()),
        type="person_detected",
        source_kind="camera",
        source_id="door",
        person_count=1,
        best_score=0.9,
        details_json=json.dumps({"label": "person", "state": "ended", "boxes": [[1, 2, 3, 4]]}),
        version=version,
    )
    now = dt.datetime.now(dt.UTC)
    for ts in (event.started_at, event.ended_at, event.created_at, event.updated_at):
        ts.FromDatetime(now)
    return event


class Stream:
    """One Connect stream driven from the test."""

    def __init__(self, channel: grpc.Channel) -> None:
        self.outbox: queue.Queue[link_pb2.EdgeMessage | None] = queue.Queue()
        self.replies = link_pb2_grpc.EdgeLinkStub(channel).Connect(
            iter(self.outbox.get, None), timeout=30
        )

    def send(self, message: link_pb2.EdgeMessage) -> None:
        self.outbox.put(message)

    def next_ack(self) -> link_pb2.Ack:
        for reply in self.replies:
            if reply.WhichOneof("body") == "ack":
                return reply.ack
        raise AssertionError("stream ended without an ack")

    def close(self) -> None:
        self.outbox.put(None)
        self.replies.cancel()


def _hello() -> link_pb2.EdgeMessage:
    return link_pb2.EdgeMessage(
        hello=link_pb2.Hello(site_id=SITE, edge_version="0.9", protocol_version=1)
    )


def _batch(items: list[tuple[int, link_pb2.Event]], batch_id: str = "b1") -> link_pb2.EdgeMessage:
    return link_pb2.EdgeMessage(
        event_batch=link_pb2.EventBatch(
            batch_id=batch_id,
            items=[link_pb2.OutboxItem(outbox_id=i, event=e) for i, e in items],
        )
    )


@PORTS
def test_enrolled_edge_streams_events_and_gets_acks(
    link: LinkServer, ctx: RelayContext, tmp_path: Path, which: str
) -> None:
    files = _enroll(link, ctx, tmp_path / "edge")
    with _channel(_port(link, which), files.ca_path.read_bytes(), files) as channel:
        stream = Stream(channel)
        stream.send(_hello())
        welcome = next(stream.replies)
        assert welcome.welcome.relay_id == ctx.relay_id
        bad = _event()
        bad.details_json = "[1]"
        stream.send(_batch([(7, _event()), (8, _event()), (9, bad)]))
        ack = stream.next_ack()
        stream.close()

    assert (ack.batch_id, list(ack.outbox_ids)) == ("b1", [7, 8])
    assert [r.outbox_id for r in ack.rejected] == [9]
    with ctx.sessions() as session:
        assert session.scalar(select(func.count(CachedEvent.id))) == 2
        assert session.scalar(select(func.count(ForwardQueue.id))) == 2
        edge = get_edge(session, SITE)
    assert edge is not None and edge.last_seen_at is not None


def test_redelivered_batch_is_acked_without_duplicates(
    link: LinkServer, ctx: RelayContext, tmp_path: Path
) -> None:
    files = _enroll(link, ctx, tmp_path / "edge")
    event = _event()
    acks = []
    for _ in range(2):  # the second stream resends after a "lost" ack
        with _channel(link.port, files.ca_path.read_bytes(), files) as channel:
            stream = Stream(channel)
            stream.send(_hello())
            stream.send(_batch([(1, event)]))
            acks.append(list(stream.next_ack().outbox_ids))
            stream.close()

    assert acks == [[1], [1]]
    with ctx.sessions() as session:
        assert session.scalar(select(func.count(CachedEvent.id))) == 1
        assert session.scalar(select(func.count(ForwardQueue.id))) == 1


def test_reused_bootstrap_token_is_permission_denied(
    link: LinkServer, ctx: RelayContext, tmp_path: Path
) -> None:
    _enroll(link, ctx, tmp_path / "edge")
    with pytest.raises(grpc.RpcError) as caught:
        _enroll(link, ctx, tmp_path / "again")
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


@PORTS
def test_connect_without_client_certificate_is_refused(
    link: LinkServer, ctx: RelayContext, which: str
) -> None:
    with _channel(_port(link, which), ctx.ca.cert_pem) as channel:
        stream = Stream(channel)
        stream.send(_hello())
        with pytest.raises(grpc.RpcError) as caught:
            next(stream.replies)
    # The front lets the connection in (enrolment needs none) and the servicer refuses the
    # call; the direct port requires the certificate in the handshake itself.
    expected = grpc.StatusCode.UNAUTHENTICATED if which == "front" else grpc.StatusCode.UNAVAILABLE
    assert caught.value.code() == expected


def _listening_pair() -> tuple[int, socket.socket]:
    """A free port P and a listener holding P + 1."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        holder = socket.socket()
        try:
            holder.bind(("127.0.0.1", port + 1))
        except OSError:
            holder.close()
            continue
        holder.listen()
        return port, holder


def test_a_taken_default_direct_port_gives_way_but_a_configured_one_fails(
    ctx: RelayContext,
) -> None:
    port, holder = _listening_pair()
    with holder:
        settings = ctx.settings.model_copy(update={"link_port": port})
        server = LinkServer(replace(ctx, settings=settings), control_redeemer(None), workers=2)
        server.start()
        server.stop(grace=0)
        assert server.direct_port not in (0, port, port + 1)
        taken = settings.model_copy(update={"link_port": 0, "link_direct_port": port + 1})
        with pytest.raises(RuntimeError):
            LinkServer(replace(ctx, settings=taken), control_redeemer(None), workers=2)


def test_enrolment_is_not_served_on_the_direct_port(
    link: LinkServer, ctx: RelayContext, tmp_path: Path
) -> None:
    files = _enroll(link, ctx, tmp_path / "edge")
    with _channel(link.direct_port, files.ca_path.read_bytes(), files) as channel:
        with pytest.raises(grpc.RpcError) as caught:
            link_pb2_grpc.EnrollmentStub(channel).Enroll(
                link_pb2.EnrollRequest(bootstrap_token="gbt_other", csr_pem="x"), timeout=TIMEOUT
            )
    assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED


@PORTS
def test_revoked_edge_is_refused(
    link: LinkServer, ctx: RelayContext, tmp_path: Path, which: str
) -> None:
    files = _enroll(link, ctx, tmp_path / "edge")
    with ctx.sessions.begin() as session:
        assert revoke_site(session, SITE, dt.datetime.now(dt.UTC), "test")
    with _channel(_port(link, which), files.ca_path.read_bytes(), files) as channel:
        stream = Stream(channel)
        stream.send(_hello())
        with pytest.raises(grpc.RpcError) as caught:
            next(stream.replies)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "revoked" in (caught.value.details() or "")


def _foreign_files(
    ca: CertificateAuthority, directory: Path, relay_ca: bytes, **kw: object
) -> EdgeIdentityFiles:
    files = EdgeIdentityFiles(directory)
    issued = ca.issue_client_certificate(
        files.create_csr(),
        site_id=SITE,
        tenant_id=TENANT,
        **kw,  # type: ignore[arg-type]
    )
    files.store(issued.cert_pem, relay_ca)
    return files


# asyncio (3.11) can leave the transport of a connection whose TLS handshake failed to the
# garbage collector, which then warns "unclosed transport" at a random later moment; the
# socket is closed either way. Only that warning is tolerated here.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.filterwarnings("ignore:unclosed transport:ResourceWarning")
@pytest.mark.parametrize("case", ["other_ca", "expired"])
@PORTS
def test_bad_client_certificate_fails_the_handshake(
    link: LinkServer, ctx: RelayContext, tmp_path: Path, case: str, which: str
) -> None:
    if case == "other_ca":
        other = CertificateAuthority.load_or_create(tmp_path / "other", name="relay test")
        files = _foreign_files(other, tmp_path / "edge", ctx.ca.cert_pem)
    else:
        long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=10)
        files = _foreign_files(ctx.ca, tmp_path / "edge", ctx.ca.cert_pem, now=long_ago, days=1)
    with _channel(_port(link, which), ctx.ca.cert_pem, files) as channel:
        stream = Stream(channel)
        stream.send(_hello())
        with pytest.raises(grpc.RpcError) as caught:
            next(stream.replies)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE  # no TLS session at all
