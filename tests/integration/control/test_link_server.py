"""The gRPC ControlLink server over a real loopback channel, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import socket
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from sqlalchemy import select, update

from guardian.common.db import utcnow
from guardian.contracts.pb.guardian.v1 import control_pb2, control_pb2_grpc
from guardian.control.context import ControlContext
from guardian.control.link_server import (
    NOT_ASSIGNED,
    NOT_OUR_TENANT,
    SITE_GONE,
    UNKNOWN_TOKEN,
    serve_control_link,
    start_control_link,
)
from guardian.control.store.tables import Camera, Event, Relay, Site
from guardian.control.tenancy.sites import create_site, delete_site, get_site
from guardian.control.tenancy.tokens import sha256_hex
from tests.control_helpers import assign_relay, make_relay, make_tenant

Metadata = tuple[tuple[str, str], ...]
T0 = dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Link:
    """A running ControlLink, its stub, and a relay serving tenant A (not B)."""

    ctx: ControlContext
    stub: control_pb2_grpc.ControlLinkStub
    relay_id: str
    auth: Metadata
    tenant_a: str
    site_a: str
    token_a: str
    tenant_b: str
    site_b: str


def _site(ctx: ControlContext, tenant_id: str, name: str) -> tuple[str, str]:
    with ctx.db.tenant(tenant_id) as session:
        site, token = create_site(session, tenant_id=tenant_id, name=name, now=utcnow())
        return site.id, token


@pytest.fixture
def link(control_ctx: ControlContext) -> Iterator[Link]:
    tenant_a, tenant_b = make_tenant(control_ctx, "a"), make_tenant(control_ctx, "b")
    relay_id, token = make_relay(control_ctx, "eu-1")
    assign_relay(control_ctx, tenant_a, relay_id)
    site_a, token_a = _site(control_ctx, tenant_a, "shop a")
    site_b, _ = _site(control_ctx, tenant_b, "shop b")
    server, port = start_control_link(control_ctx, "127.0.0.1", 0)
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield Link(
            control_ctx,
            control_pb2_grpc.ControlLinkStub(channel),
            relay_id,
            (("authorization", f"Bearer {token}"),),
            tenant_a,
            site_a,
            token_a,
            tenant_b,
            site_b,
        )
    finally:
        channel.close()
        server.stop(grace=None).wait()


def _ts(value: dt.datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def _summary(
    tenant_id: str, site_id: str, *, event_id: str | None = None, version: int = 1
) -> control_pb2.EventSummary:
    return control_pb2.EventSummary(
        id=event_id or str(uuid.uuid4()),
        tenant_id=tenant_id,
        site_id=site_id,
        source_kind=control_pb2.SOURCE_KIND_CAMERA,
        source_name="front",
        type="interaction_detected",
        label="person",
        zone="shelf",
        dwell_s=4.5,
        person_count=2,
        confidence=control_pb2.CONFIDENCE_HIGH,
        state=control_pb2.EVENT_STATE_ENDED,
        started_at=_ts(T0),
        ended_at=_ts(T0 + dt.timedelta(seconds=6)),
        version=version,
    )


def _statuses(ack: control_pb2.SummaryAck) -> list[str]:
    return [
        control_pb2.SummaryStatus.Name(r.status).removeprefix("SUMMARY_STATUS_")
        for r in ack.results
    ]


def _denied(call: object, code: grpc.StatusCode) -> str:
    """The details of the RpcError ``call()`` raised with ``code``."""
    assert callable(call)
    with pytest.raises(grpc.RpcError) as info:
        call()
    error = info.value
    assert isinstance(error, grpc.Call)
    assert error.code() == code, error.details()
    return str(error.details())


# --- authentication -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "metadata",
    [(), (("authorization", "Bearer grl_not-a-relay"),), (("authorization", "Basic abc"),)],
    ids=["none", "unknown", "not-bearer"],
)
def test_a_call_without_a_valid_relay_token_is_unauthenticated(
    link: Link, metadata: Metadata
) -> None:
    batch = control_pb2.SummaryBatch(batch_id="b-1", events=[_summary(link.tenant_a, link.site_a)])

    _denied(
        lambda: link.stub.PushSummaries(batch, metadata=metadata), grpc.StatusCode.UNAUTHENTICATED
    )
    _denied(
        lambda: link.stub.PushHealth(control_pb2.HealthReport(), metadata=metadata),
        grpc.StatusCode.UNAUTHENTICATED,
    )
    _denied(
        lambda: link.stub.RedeemBootstrap(
            control_pb2.RedeemRequest(bootstrap_token=link.token_a), metadata=metadata
        ),
        grpc.StatusCode.UNAUTHENTICATED,
    )
    with link.ctx.db.system() as session:
        assert session.scalar(select(Event.id)) is None


def test_a_rotated_or_deleted_relay_is_cut_off_at_once(link: Link) -> None:
    assert link.stub.PushHealth(control_pb2.HealthReport(), metadata=link.auth).results == []
    with link.ctx.db.system() as session:
        session.execute(
            update(Relay).where(Relay.id == link.relay_id).values(token_sha256=sha256_hex("new"))
        )
    _denied(
        lambda: link.stub.PushHealth(control_pb2.HealthReport(), metadata=link.auth),
        grpc.StatusCode.UNAUTHENTICATED,
    )
    assert (
        link.stub.PushHealth(
            control_pb2.HealthReport(), metadata=(("authorization", "Bearer new"),)
        ).results
        == []
    )

    spare_id, spare_token = make_relay(link.ctx, "spare")
    spare = (("authorization", f"Bearer {spare_token}"),)
    link.stub.PushHealth(control_pb2.HealthReport(), metadata=spare)
    with link.ctx.db.system() as session:
        relay = session.get(Relay, spare_id)
        assert relay is not None
        session.delete(relay)
    _denied(
        lambda: link.stub.PushHealth(control_pb2.HealthReport(), metadata=spare),
        grpc.StatusCode.UNAUTHENTICATED,
    )


# --- summaries ----------------------------------------------------------------------------


def test_summaries_are_stored_and_a_resent_batch_is_unchanged(link: Link) -> None:
    events = [_summary(link.tenant_a, link.site_a) for _ in range(3)]
    batch = control_pb2.SummaryBatch(batch_id="b-1", events=events)

    ack = link.stub.PushSummaries(batch, metadata=link.auth)
    again = link.stub.PushSummaries(batch, metadata=link.auth)

    assert ack.batch_id == again.batch_id == "b-1"
    assert [r.id for r in ack.results] == [e.id for e in events]
    assert _statuses(ack) == ["CREATED"] * 3
    assert _statuses(again) == ["UNCHANGED"] * 3
    with link.ctx.db.tenant(link.tenant_a) as session:
        rows = {row.id: row for row in session.scalars(select(Event))}
        assert set(rows) == {e.id for e in events}
        row = rows[events[0].id]
        assert (row.site_id, row.source_kind, row.source_name, row.label, row.zone) == (
            link.site_a,
            "camera",
            "front",
            "person",
            "shelf",
        )
        assert (row.person_count, row.confidence, row.state, row.version) == (2, "high", "ended", 1)
        assert row.dwell_s == 4.5
        cameras = session.scalars(select(Camera.edge_name).where(Camera.site_id == link.site_a))
        assert list(cameras) == ["front"]


def test_a_higher_version_updates_and_a_lower_one_is_stale(link: Link) -> None:
    event_id = str(uuid.uuid4())

    def push(version: int, zone: str) -> list[str]:
        summary = _summary(link.tenant_a, link.site_a, event_id=event_id, version=version)
        summary.zone = zone
        batch = control_pb2.SummaryBatch(batch_id=f"b-{version}", events=[summary])
        return _statuses(link.stub.PushSummaries(batch, metadata=link.auth))

    assert push(2, "door") == ["CREATED"]
    assert push(3, "till") == ["UPDATED"]
    assert push(1, "stale") == ["STALE"]
    with link.ctx.db.tenant(link.tenant_a) as session:
        row = session.get(Event, event_id)
        assert row is not None
        assert (row.version, row.zone) == (3, "till")


def test_foreign_and_invalid_summaries_are_rejected_while_the_rest_proceeds(link: Link) -> None:
    good = _summary(link.tenant_a, link.site_a)
    other_site = _summary(link.tenant_a, link.site_b)  # tenant A's id, tenant B's site
    other_tenant = _summary(link.tenant_b, link.site_b)  # tenant not served by this relay
    no_confidence = _summary(link.tenant_a, link.site_a)
    no_confidence.confidence = control_pb2.CONFIDENCE_UNSPECIFIED
    bad_type = _summary(link.tenant_a, link.site_a)
    bad_type.type = "Not A Type"
    no_start = _summary(link.tenant_a, link.site_a)
    no_start.ClearField("started_at")
    events = [other_site, good, other_tenant, no_confidence, bad_type, no_start]

    ack = link.stub.PushSummaries(
        control_pb2.SummaryBatch(batch_id="b-x", events=events), metadata=link.auth
    )

    assert [r.id for r in ack.results] == [e.id for e in events]
    assert _statuses(ack) == ["REJECTED", "CREATED", *["REJECTED"] * 4]
    reasons = [r.reason for r in ack.results]
    assert "site" in reasons[0] and reasons[1] == ""
    assert reasons[2] == NOT_ASSIGNED
    assert "confidence" in reasons[3]
    assert "type" in reasons[4]
    assert "started_at" in reasons[5]
    with link.ctx.db.system() as session:
        assert list(session.scalars(select(Event.id))) == [good.id]


def test_an_oversized_batch_is_an_invalid_argument(link: Link) -> None:
    events = [_summary(link.tenant_a, link.site_a) for _ in range(501)]
    batch = control_pb2.SummaryBatch(batch_id="big", events=events)

    detail = _denied(
        lambda: link.stub.PushSummaries(batch, metadata=link.auth),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert "500" in detail


# --- health -------------------------------------------------------------------------------


def _site_health(tenant_id: str, site_id: str) -> control_pb2.SiteHealth:
    return control_pb2.SiteHealth(
        tenant_id=tenant_id,
        site_id=site_id,
        health=control_pb2.HEALTH_DEGRADED,
        edge_version="0.4.0",
        last_seen_at=_ts(utcnow()),
        cameras=[
            control_pb2.CameraHealth(
                name="front",
                health=control_pb2.HEALTH_HEALTHY,
                state="online",
                input_fps=25.0,
                recording="recording",
            ),
            control_pb2.CameraHealth(
                name="back", health=control_pb2.HEALTH_OFFLINE, state="offline"
            ),
        ],
    )


def test_health_is_stored_and_deleted_sites_come_back_revoked(link: Link) -> None:
    gone_id, _ = _site(link.ctx, link.tenant_a, "closed shop")
    with link.ctx.db.tenant(link.tenant_a) as session:
        delete_site(session, get_site(session, link.tenant_a, gone_id))
    unset = _site_health(link.tenant_a, link.site_a)
    unset.health = control_pb2.HEALTH_UNSPECIFIED
    report = control_pb2.HealthReport(
        at=_ts(utcnow()),
        relay_version="0.4.0",
        sites=[
            _site_health(link.tenant_a, link.site_a),
            _site_health(link.tenant_a, gone_id),
            _site_health(link.tenant_b, link.site_b),
            unset,
        ],
    )

    ack = link.stub.PushHealth(report, metadata=link.auth)

    assert [(r.site_id, r.accepted) for r in ack.results] == [
        (link.site_a, True),
        (gone_id, False),
        (link.site_b, False),
        (link.site_a, False),
    ]
    assert [r.reason for r in ack.results[1:3]] == [SITE_GONE, NOT_ASSIGNED]
    assert "health" in ack.results[3].reason
    assert list(ack.revoked_site_ids) == [gone_id]
    with link.ctx.db.system() as session:
        site = session.get(Site, link.site_a)
        assert site is not None and site.health == "degraded"
        assert site.details is not None and site.details["version"] == "0.4.0"
        other = session.get(Site, link.site_b)
        assert other is not None and other.last_seen_at is None
        cameras = {c.edge_name: c.health for c in session.scalars(select(Camera))}
        assert cameras == {"front": "healthy", "back": "offline"}
        relay = session.get(Relay, link.relay_id)
        assert relay is not None and relay.last_seen_at is not None


# --- bootstrap tokens ---------------------------------------------------------------------


def _redeem(link: Link, token: str, metadata: Metadata | None = None) -> control_pb2.RedeemResponse:
    request = control_pb2.RedeemRequest(bootstrap_token=token)
    response: control_pb2.RedeemResponse = link.stub.RedeemBootstrap(
        request, metadata=metadata or link.auth
    )
    return response


def test_a_bootstrap_token_redeems_once(link: Link) -> None:
    got = _redeem(link, link.token_a)

    assert (got.site_id, got.tenant_id, got.site_name) == (link.site_a, link.tenant_a, "shop a")
    with link.ctx.db.system() as session:
        site = session.get(Site, link.site_a)
        assert site is not None and site.enrolled_at is not None
    detail = _denied(lambda: _redeem(link, link.token_a), grpc.StatusCode.PERMISSION_DENIED)
    assert "used" in detail


def test_unknown_and_expired_bootstrap_tokens_are_denied(link: Link) -> None:
    detail = _denied(lambda: _redeem(link, "gbt_nope"), grpc.StatusCode.PERMISSION_DENIED)
    assert detail == UNKNOWN_TOKEN

    link.ctx.clock = lambda: time.time() + 25 * 3600
    detail = _denied(lambda: _redeem(link, link.token_a), grpc.StatusCode.PERMISSION_DENIED)
    assert "expired" in detail


def test_a_relay_cannot_redeem_a_token_of_a_tenant_it_does_not_serve(link: Link) -> None:
    other_id, other_token = make_relay(link.ctx, "us-1")
    assign_relay(link.ctx, link.tenant_b, other_id)
    other = (("authorization", f"Bearer {other_token}"),)

    detail = _denied(lambda: _redeem(link, link.token_a, other), grpc.StatusCode.PERMISSION_DENIED)

    assert detail == NOT_OUR_TENANT
    # The refused attempt did not use the token up: its own relay still redeems it.
    assert _redeem(link, link.token_a).site_id == link.site_a


def test_serve_control_link_listens_on_the_settings_host(
    sqlite_control_ctx: ControlContext,
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    server = serve_control_link(sqlite_control_ctx, port)
    try:
        with grpc.insecure_channel(f"{sqlite_control_ctx.settings.host}:{port}") as channel:
            stub = control_pb2_grpc.ControlLinkStub(channel)
            _denied(
                lambda: stub.PushHealth(control_pb2.HealthReport(), timeout=5),
                grpc.StatusCode.UNAUTHENTICATED,
            )
    finally:
        server.stop(grace=None).wait()
