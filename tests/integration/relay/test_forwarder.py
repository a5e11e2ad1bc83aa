"""The forwarder against a real ControlLink gRPC server on loopback."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from concurrent import futures

import grpc
import pytest
from sqlalchemy import func, select

from guardian.contracts.pb.guardian.v1 import control_pb2, control_pb2_grpc
from guardian.relay.context import ControlClient, ControlTarget, RelayContext
from guardian.relay.forwarder import Forwarder
from guardian.relay.pki import CertificateAuthority
from guardian.relay.store.cache import store_batch
from guardian.relay.store.edges import get_edge, record_enrollment
from guardian.relay.store.tables import ForwardQueue
from tests.relay_fixtures import RelayDb

SITE, TENANT = str(uuid.uuid4()), str(uuid.uuid4())
TOKEN = "grl_forwarder"


class Control(control_pb2_grpc.ControlLinkServicer):
    def __init__(self) -> None:
        self.summaries: list[control_pb2.EventSummary] = []
        self.health: list[control_pb2.HealthReport] = []
        self.fail = False

    def PushSummaries(
        self, request: control_pb2.SummaryBatch, context: grpc.ServicerContext
    ) -> control_pb2.SummaryAck:
        assert ("authorization", f"Bearer {TOKEN}") in context.invocation_metadata()
        if self.fail:
            context.abort(grpc.StatusCode.UNAVAILABLE, "down")
        self.summaries.extend(request.events)
        return control_pb2.SummaryAck(
            batch_id=request.batch_id,
            results=[
                control_pb2.SummaryResult(id=e.id, status=control_pb2.SUMMARY_STATUS_CREATED)
                for e in request.events
            ],
        )

    def PushHealth(
        self, request: control_pb2.HealthReport, context: grpc.ServicerContext
    ) -> control_pb2.HealthAck:
        self.health.append(request)
        return control_pb2.HealthAck(revoked_site_ids=[SITE])

    def RedeemBootstrap(
        self, request: control_pb2.RedeemRequest, context: grpc.ServicerContext
    ) -> control_pb2.RedeemResponse:
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "not used here")


@pytest.fixture
def control() -> Iterator[tuple[Control, ControlClient]]:
    servicer = Control()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    control_pb2_grpc.add_ControlLinkServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    client = ControlClient(ControlTarget(f"127.0.0.1:{port}", tls=False), TOKEN)
    yield servicer, client
    client.close()
    server.stop(0).wait()


@pytest.fixture
def ctx(sqlite_relay_db: RelayDb, control: tuple[Control, ControlClient]) -> RelayContext:
    settings = sqlite_relay_db.settings
    ca = CertificateAuthority.load_or_create(settings.data_dir / "ca", name="relay test")
    return RelayContext(settings, sqlite_relay_db.engine, ca, control[1])


def _queue_one(ctx: RelayContext) -> str:
    now = dt.datetime.now(dt.UTC)
    event_id = str(uuid.uuid4())
    event = {
        "id": event_id,
        "type": "person_detected",
        "source_kind": "camera",
        "source_id": "door",
        "started_at": now.isoformat(),
        "ended_at": now.isoformat(),
        "person_count": 2,
        "best_score": 0.8,
        "details": {"label": "person", "state": "ended", "zone": "till", "boxes": [[0, 0, 1, 1]]},
        "version": 1,
    }
    with ctx.sessions.begin() as session:
        store_batch(session, TENANT, SITE, [event], now)
    return event_id


def _queued(ctx: RelayContext) -> int:
    with ctx.sessions() as session:
        return int(session.scalar(select(func.count(ForwardQueue.id))) or 0)


def test_forwarder_pushes_summaries_and_empties_the_queue(
    ctx: RelayContext, control: tuple[Control, ControlClient]
) -> None:
    event_id = _queue_one(ctx)

    assert Forwarder(ctx, control[1]).forward_once() == 1

    [summary] = control[0].summaries
    assert (summary.id, summary.site_id, summary.zone) == (event_id, SITE, "till")
    assert summary.confidence == control_pb2.CONFIDENCE_HIGH
    assert _queued(ctx) == 0


def test_failed_push_keeps_the_row_with_backoff(
    ctx: RelayContext, control: tuple[Control, ControlClient]
) -> None:
    _queue_one(ctx)
    control[0].fail = True

    assert Forwarder(ctx, control[1]).forward_once() == 0

    with ctx.sessions() as session:
        row = session.scalars(select(ForwardQueue)).one()
    assert row.attempts == 1 and row.last_error is not None and "UNAVAILABLE" in row.last_error
    assert ctx.metrics.control_push_errors._value.get() == 1


def test_health_is_pushed_and_deleted_sites_are_revoked(
    ctx: RelayContext, control: tuple[Control, ControlClient]
) -> None:
    now = dt.datetime.now(dt.UTC)
    with ctx.sessions.begin() as session:
        record_enrollment(
            session, site_id=SITE, tenant_id=TENANT, serial="abc", cert_pem="x", now=now
        )

    assert Forwarder(ctx, control[1]).push_health_once() == [SITE]

    [report] = control[0].health
    assert [(s.site_id, s.health) for s in report.sites] == [(SITE, control_pb2.HEALTH_OFFLINE)]
    with ctx.sessions() as session:
        edge = get_edge(session, SITE)
    assert edge is not None and edge.revoked_at is not None
    assert ctx.is_revoked("abc")
