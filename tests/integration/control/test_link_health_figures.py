"""The edge's disk, job queue and outbox figures from relay to control plane: a real relay
forwarder pushes its stored telemetry over a loopback ControlLink into the control plane's
store (SQLite and PostgreSQL) and the sites API; an older relay's report leaves them null."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from fastapi.testclient import TestClient
from google.protobuf.json_format import MessageToDict
from google.protobuf.timestamp_pb2 import Timestamp

from guardian.common.db import utcnow
from guardian.contracts.pb.guardian.v1 import control_pb2, control_pb2_grpc, link_pb2
from guardian.control.app import create_app
from guardian.control.context import ControlContext
from guardian.control.link_server import start_control_link
from guardian.control.store.tables import Site
from guardian.relay.context import ControlClient, ControlTarget, RelayContext
from guardian.relay.forwarder import Forwarder
from guardian.relay.pki import CertificateAuthority
from guardian.relay.store.edges import record_enrollment, store_telemetry
from tests.control_helpers import Actor, actor, assign_relay, make_relay, make_site, make_tenant
from tests.relay_fixtures import RelayDb

GB = 1_000_000_000
FIGURES = ("disk_free_bytes", "disk_total_bytes", "queue_depth", "dead_jobs", "outbox_depth")


@dataclass(frozen=True)
class Stack:
    """A control plane with its ControlLink and HTTP API, and a relay serving tenant A."""

    control: ControlContext
    api: TestClient
    viewer: Actor
    tenant: str
    site: str
    relay: RelayContext
    forwarder: Forwarder
    stub: control_pb2_grpc.ControlLinkStub
    auth: tuple[tuple[str, str], ...]


@pytest.fixture
def stack(control_ctx: ControlContext, sqlite_relay_db: RelayDb) -> Iterator[Stack]:
    tenant = make_tenant(control_ctx, "a")
    relay_id, token = make_relay(control_ctx, "eu-1")
    assign_relay(control_ctx, tenant, relay_id)
    site = make_site(control_ctx, tenant, "shop a")
    server, port = start_control_link(control_ctx, "127.0.0.1", 0)
    client = ControlClient(ControlTarget(f"127.0.0.1:{port}", tls=False), token)
    settings = sqlite_relay_db.settings
    ca = CertificateAuthority.load_or_create(settings.data_dir / "ca", name="relay test")
    relay = RelayContext(settings, sqlite_relay_db.engine, ca, client)
    with relay.sessions.begin() as session:
        record_enrollment(
            session, site_id=site, tenant_id=tenant, serial="ab12", cert_pem="x", now=utcnow()
        )
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        with TestClient(create_app(control_ctx)) as api:
            yield Stack(
                control_ctx,
                api,
                actor(control_ctx, api, tenant, "viewer"),
                tenant,
                site,
                relay,
                Forwarder(relay, client),
                control_pb2_grpc.ControlLinkStub(channel),
                (("authorization", f"Bearer {token}"),),
            )
    finally:
        channel.close()
        client.close()
        server.stop(grace=None).wait()


def _edge_sends(stack: Stack, telemetry: link_pb2.Telemetry) -> None:
    """What the relay's link does with an edge's Telemetry: keep it as the site's latest."""
    payload = MessageToDict(telemetry, preserving_proto_field_name=True)
    with stack.relay.sessions.begin() as session:
        store_telemetry(
            session, site_id=stack.site, tenant_id=stack.tenant, payload=payload, now=utcnow()
        )


def _api_site(stack: Stack) -> dict[str, Any]:
    got = stack.api.get("/api/v1/sites", headers=stack.viewer.headers)
    assert got.status_code == 200, got.text
    [site] = got.json()["sites"]
    assert site["id"] == stack.site
    return {name: site[name] for name in FIGURES}


def _stored(stack: Stack) -> dict[str, Any]:
    with stack.control.db.system() as session:
        site = session.get(Site, stack.site)
        assert site is not None
        return {name: getattr(site, name) for name in FIGURES}


def test_a_fresh_site_reports_no_figures(stack: Stack) -> None:
    assert _api_site(stack) == dict.fromkeys(FIGURES)


def test_the_edges_figures_reach_the_site_and_the_sites_api(stack: Stack) -> None:
    _edge_sends(
        stack,
        link_pb2.Telemetry(
            box=link_pb2.BoxMetrics(disk_used_bytes=88 * GB, disk_total_bytes=500 * GB),
            ingest=link_pb2.IngestMetrics(devices=1, jobs_queued=7, jobs_dead=2),
            outbox_depth=0,
        ),
    )

    assert stack.forwarder.push_health_once() == []

    expected = {
        "disk_free_bytes": 412 * GB,
        "disk_total_bytes": 500 * GB,
        "queue_depth": 7,
        "dead_jobs": 2,
        "outbox_depth": 0,
    }
    assert _stored(stack) == expected
    assert _api_site(stack) == expected
    got = stack.api.get(f"/api/v1/sites/{stack.site}", headers=stack.viewer.headers).json()
    assert {name: got[name] for name in FIGURES} == expected
    assert "disk_free_bytes" not in got["details"]  # a column, not a details key


def test_an_edge_without_box_or_ingest_reports_only_its_outbox(stack: Stack) -> None:
    _edge_sends(stack, link_pb2.Telemetry(outbox_depth=5))

    stack.forwarder.push_health_once()

    assert _api_site(stack) == {**dict.fromkeys(FIGURES), "outbox_depth": 5}


def _ts(value: dt.datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def _old_relay_push(stack: Stack) -> control_pb2.HealthAck:
    """A relay from before the figures: SiteHealth fields 1-6 only."""
    report = control_pb2.HealthReport(
        at=_ts(utcnow()),
        relay_version="0.4.0",
        sites=[
            control_pb2.SiteHealth(
                tenant_id=stack.tenant,
                site_id=stack.site,
                health=control_pb2.HEALTH_HEALTHY,
                edge_version="0.4.0",
            )
        ],
    )
    ack: control_pb2.HealthAck = stack.stub.PushHealth(report, metadata=stack.auth)
    return ack


def test_an_old_relays_report_leaves_the_figures_null(stack: Stack) -> None:
    ack = _old_relay_push(stack)

    assert [(r.site_id, r.accepted) for r in ack.results] == [(stack.site, True)]
    assert _stored(stack) == dict.fromkeys(FIGURES)
    site = stack.api.get(f"/api/v1/sites/{stack.site}", headers=stack.viewer.headers).json()
    assert site["health"] == "healthy" and site["details"] == {"version": "0.4.0"}
    assert {name: site[name] for name in FIGURES} == dict.fromkeys(FIGURES)


def test_a_later_report_without_figures_clears_earlier_ones(stack: Stack) -> None:
    _edge_sends(stack, link_pb2.Telemetry(ingest=link_pb2.IngestMetrics(jobs_queued=3)))
    stack.forwarder.push_health_once()
    assert _api_site(stack)["queue_depth"] == 3

    _old_relay_push(stack)  # e.g. the relay was rolled back

    assert _api_site(stack) == dict.fromkeys(FIGURES)


def test_a_count_beyond_the_store_is_refused_for_that_site_only(stack: Stack) -> None:
    report = control_pb2.HealthReport(
        at=_ts(utcnow()),
        sites=[
            control_pb2.SiteHealth(
                tenant_id=stack.tenant,
                site_id=stack.site,
                health=control_pb2.HEALTH_HEALTHY,
                queue_depth=2**64 - 1,
            )
        ],
    )

    ack = stack.stub.PushHealth(report, metadata=stack.auth)

    [result] = ack.results
    assert not result.accepted and "queue_depth" in result.reason
    assert _stored(stack) == dict.fromkeys(FIGURES)
