"""Relay ingest over HTTP: created/updated/unchanged/stale/rejected, refused details, cameras."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import func, select

from guardian.control.store.tables import Camera, Event, EventFeed
from tests.integration.control.inventory.conftest import Inventory


def _event_row(inv: Inventory, event_id: str) -> Event | None:
    with inv.ctx.db.system() as session:
        return session.get(Event, event_id)


def test_ingest_creates_updates_and_ignores_repeats_and_older_versions(inv: Inventory) -> None:
    first = inv.a.summary(state="active", version=1)
    assert inv.ingest(first) == [{"id": first["id"], "status": "created", "reason": None}]
    newer = {**first, "state": "ended", "person_count": 2, "version": 3}
    older = {**first, "state": "active", "person_count": 9, "version": 2}
    results = inv.ingest(newer, newer, older)
    assert [r["status"] for r in results] == ["updated", "unchanged", "stale"]
    row = _event_row(inv, first["id"])
    assert row is not None
    assert (row.version, row.state, row.person_count) == (3, "ended", 2)
    with inv.ctx.db.system() as session:
        kinds = list(
            session.scalars(
                select(EventFeed.kind)
                .where(EventFeed.event_id == first["id"])
                .order_by(EventFeed.id)
            )
        )
        assert kinds == ["created", "updated"]  # unchanged and stale change nothing
        assert session.scalar(select(func.count()).select_from(Event)) == 1


def test_started_at_is_kept_on_update(inv: Inventory) -> None:
    first = inv.a.summary()
    inv.ingest(first)
    moved = {**first, "started_at": "2026-03-01T08:00:00Z", "version": 2}
    assert inv.ingest(moved)[0]["status"] == "updated"
    row = _event_row(inv, first["id"])
    assert row is not None and row.started_at.hour == 9


def test_ingest_rejects_other_tenants_sites_and_ids(inv: Inventory) -> None:
    own = inv.a.summary()
    foreign_tenant = inv.b.summary()  # B is not assigned to A's relay
    foreign_site = inv.a.summary(site_id=inv.b.site)
    unknown_site = inv.a.summary(site_id=str(uuid.uuid4()))
    results = inv.ingest(own, foreign_tenant, foreign_site, unknown_site)
    assert [r["status"] for r in results] == ["created", "rejected", "rejected", "rejected"]
    assert "not assigned" in results[1]["reason"]
    assert "site" in results[2]["reason"] and "site" in results[3]["reason"]
    # B's relay re-using A's event id for B cannot touch A's event.
    hijack = {**own, "tenant_id": inv.b.id, "site_id": inv.b.site, "version": 5}
    result = inv.ingest(hijack, tenant=inv.b)[0]
    assert result["status"] == "rejected" and "another tenant" in result["reason"]
    row = _event_row(inv, own["id"])
    assert row is not None and (row.tenant_id, row.version) == (inv.a.id, 1)
    for rejected in (foreign_tenant, foreign_site, unknown_site):
        assert _event_row(inv, rejected["id"]) is None


def test_ingest_refuses_boxes_scores_and_bad_tokens(inv: Inventory) -> None:
    for extra in ({"boxes": [[1, 2, 3, 4]]}, {"score": 0.97}, {"scores": [0.9]}):
        got = inv.client.post(
            "/api/v1/ingest/events",
            json={"events": [inv.a.summary(**extra)]},
            headers=inv.a.relay_headers,
        )
        assert got.status_code == 422, got.text
        assert got.json()["error"]["code"] == "invalid_request"
    body = {"events": [inv.a.summary()]}
    assert inv.client.post("/api/v1/ingest/events", json=body).status_code == 401
    user = inv.client.post("/api/v1/ingest/events", json=body, headers=inv.a.admin.headers)
    assert user.status_code == 401  # a user's access token is not a relay token
    with inv.ctx.db.system() as session:
        assert session.scalar(select(func.count()).select_from(Event)) == 0


def test_camera_events_resolve_and_create_cameras_within_quota(inv: Inventory) -> None:
    names = [f"cam{i}" for i in range(10)]  # the free plan allows 8 cameras
    events = [inv.a.summary(source_name=n) for n in names]
    device = inv.a.summary(source_kind="device", source_name="pi-1")
    assert {r["status"] for r in inv.ingest(*events, device)} == {"created"}
    again = inv.a.summary(source_name="cam0")
    inv.ingest(again)
    with inv.ctx.db.system() as session:
        cameras = {c.edge_name: c.id for c in session.scalars(select(Camera))}
        rows = {e.id: e for e in session.scalars(select(Event))}
    assert len(cameras) == 8
    assert rows[again["id"]].camera_id == cameras["cam0"] == rows[events[0]["id"]].camera_id
    over_quota = [rows[e["id"]] for e in events if e["source_name"] not in cameras]
    assert len(over_quota) == 2 and all(r.camera_id is None for r in over_quota)
    assert rows[device["id"]].camera_id is None
    listed = inv.get(inv.a.viewer, "/api/v1/events", camera=cameras["cam0"]).json()["items"]
    assert {e["id"] for e in listed} == {again["id"], events[0]["id"]}
    assert {e["camera"] for e in listed} == {"cam0"}


def test_time_zones_are_normalised(inv: Inventory) -> None:
    event = inv.a.summary(
        started_at="2026-03-01T11:00:00+02:00", ended_at="2026-03-01T11:00:01+02:00"
    )
    inv.ingest(event)
    got = inv.get(inv.a.viewer, f"/api/v1/events/{event['id']}").json()
    assert dt.datetime.fromisoformat(got["started_at"]) == dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC)
