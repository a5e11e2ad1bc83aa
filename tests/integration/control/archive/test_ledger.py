"""``ArchiveLedger`` on the control plane's link server, and the event API's archive field."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import grpc
import pytest
from fastapi.testclient import TestClient
from google.protobuf.timestamp_pb2 import Timestamp

from guardian.archive.cid import cid_of_bytes
from guardian.contracts.pb.guardian.v1 import (
    archive_pb2,
    archive_pb2_grpc,
    control_pb2,
    control_pb2_grpc,
)
from guardian.control.app import create_app
from guardian.control.archive.ledger import OTHER_TENANT
from guardian.control.context import ControlContext
from guardian.control.link_server import NOT_ASSIGNED, start_control_link
from guardian.control.tenancy.plans import GIB
from tests.control_helpers import actor, assign_relay, make_relay, make_site, make_tenant

T0 = dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC)
CID = cid_of_bytes(b"sealed clip")


@dataclass(frozen=True)
class Ledger:
    ctx: ControlContext
    ledger: archive_pb2_grpc.ArchiveLedgerStub
    link: control_pb2_grpc.ControlLinkStub
    auth: tuple[tuple[str, str], ...]
    tenant: str
    site: str
    neighbour: str
    stranger: str


@pytest.fixture
def ledger(control_ctx: ControlContext) -> Iterator[Ledger]:
    tenant, neighbour, stranger = (make_tenant(control_ctx, n) for n in ("a", "n", "s"))
    relay_id, token = make_relay(control_ctx)
    assign_relay(control_ctx, tenant, relay_id)
    assign_relay(control_ctx, neighbour, relay_id)
    site = make_site(control_ctx, tenant)
    server, port = start_control_link(control_ctx, "127.0.0.1", 0)
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield Ledger(
            control_ctx,
            archive_pb2_grpc.ArchiveLedgerStub(channel),
            control_pb2_grpc.ControlLinkStub(channel),
            (("authorization", f"Bearer {token}"),),
            tenant,
            site,
            neighbour,
            stranger,
        )
    finally:
        channel.close()
        server.stop(grace=None).wait()


def _ts(value: dt.datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def _push_event(ledger: Ledger) -> str:
    event_id = str(uuid.uuid4())
    summary = control_pb2.EventSummary(
        id=event_id,
        tenant_id=ledger.tenant,
        site_id=ledger.site,
        source_kind=control_pb2.SOURCE_KIND_CAMERA,
        source_name="door",
        type="interaction_detected",
        person_count=1,
        confidence=control_pb2.CONFIDENCE_HIGH,
        state=control_pb2.EVENT_STATE_ENDED,
        started_at=_ts(T0),
        ended_at=_ts(T0 + dt.timedelta(seconds=5)),
        version=1,
    )
    ack = ledger.link.PushSummaries(
        control_pb2.SummaryBatch(batch_id="b", events=[summary]), metadata=ledger.auth, timeout=5
    )
    assert ack.results[0].status == control_pb2.SUMMARY_STATUS_CREATED
    return event_id


def _entry(tenant: str, event_id: str, **extra: object) -> archive_pb2.ArchivedEvent:
    values: dict[str, object] = {
        "event_id": event_id,
        "tenant_id": tenant,
        "cid": CID,
        "size": 4242,
        "archived_at": _ts(T0),
    }
    values.update(extra)
    return archive_pb2.ArchivedEvent(**values)  # type: ignore[arg-type]


def _report(ledger: Ledger, *entries: archive_pb2.ArchivedEvent) -> archive_pb2.ArchiveReportAck:
    usage = [
        archive_pb2.TenantArchiveUsage(tenant_id=t, used_bytes=1)
        for t in (ledger.tenant, ledger.stranger)
    ]
    ack: archive_pb2.ArchiveReportAck = ledger.ledger.Report(
        archive_pb2.ArchiveReport(events=list(entries), usage=usage),
        metadata=ledger.auth,
        timeout=5,
    )
    return ack


def test_archived_event_shows_in_the_event_api_until_deleted(ledger: Ledger) -> None:
    event_id = _push_event(ledger)

    ack = _report(ledger, _entry(ledger.tenant, event_id))

    assert [(r.event_id, r.accepted) for r in ack.results] == [(event_id, True)]
    # Quotas for served tenants only, from the plan (the free plan: 1 GiB).
    assert [(q.tenant_id, q.limit_bytes) for q in ack.quotas] == [(ledger.tenant, GIB)]
    client = TestClient(create_app(ledger.ctx))
    user = actor(ledger.ctx, client, ledger.tenant, "viewer")
    got = client.get(f"/api/v1/events/{event_id}", headers=user.headers)
    assert got.status_code == 200, got.text
    archive = {"cid": CID, "size": 4242, "archived_at": T0.isoformat().replace("+00:00", "Z")}
    assert got.json()["archive"] == archive
    # The timeline carries it too, and the UI marks the event "Archived".
    page = client.get("/api/v1/events", headers=user.headers).json()
    assert [(e["id"], e["archive"]) for e in page["items"]] == [(event_id, archive)]

    _report(ledger, _entry(ledger.tenant, event_id, deleted=True, cid="", size=0))
    got = client.get(f"/api/v1/events/{event_id}", headers=user.headers)
    assert got.json()["archive"] is None
    page = client.get("/api/v1/events", headers=user.headers).json()
    assert [e["archive"] for e in page["items"]] == [None]
    neighbour = actor(ledger.ctx, client, ledger.neighbour)
    assert client.get(f"/api/v1/events/{event_id}", headers=neighbour.headers).status_code == 404


def test_bad_or_foreign_entries_are_refused_one_by_one(ledger: Ledger) -> None:
    event_id = _push_event(ledger)  # the event is tenant A's
    good = str(uuid.uuid4())  # reported before its summary arrives: fine

    ack = _report(
        ledger,
        _entry(ledger.stranger, str(uuid.uuid4())),
        _entry(ledger.neighbour, event_id),
        _entry(ledger.tenant, str(uuid.uuid4()), cid="Qmnope"),
        _entry(ledger.tenant, str(uuid.uuid4()), size=0),
        _entry(ledger.tenant, good),
    )

    results = [(r.accepted, r.reason) for r in ack.results]
    assert results[0] == (False, NOT_ASSIGNED)
    assert results[1] == (False, OTHER_TENANT)
    assert results[2][0] is False and "CID" in results[2][1]
    assert results[3][0] is False and "size" in results[3][1]
    assert results[4] == (True, "")


def test_an_unknown_relay_is_unauthenticated(ledger: Ledger) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        ledger.ledger.Report(
            archive_pb2.ArchiveReport(),
            metadata=(("authorization", "Bearer grl_nope"),),
            timeout=5,
        )
    assert isinstance(caught.value, grpc.Call)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
