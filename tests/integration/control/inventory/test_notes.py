"""Operator notes over HTTP: CRUD, history, permissions, tenant isolation, feed rows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from guardian.control.store.tables import Event, EventFeed, EventNote
from tests.control_helpers import Actor, actor
from tests.integration.control.inventory.conftest import Inventory

NOTE = {"added_items": [{"item": "milk", "quantity": 6}], "comment": "restocked"}


def _event(inv: Inventory) -> str:
    event = inv.a.summary()
    inv.ingest(event)
    return str(event["id"])


def _post(inv: Inventory, who: Actor, event_id: str, body: Any = NOTE) -> Any:
    return inv.client.post(f"/api/v1/events/{event_id}/notes", json=body, headers=who.headers)


def _feed_kinds(inv: Inventory, event_id: str) -> list[str]:
    with inv.ctx.db.system() as session:
        query = select(EventFeed.kind).where(EventFeed.event_id == event_id).order_by(EventFeed.id)
        return list(session.scalars(query))


def test_note_lifecycle_with_history(inv: Inventory) -> None:
    event_id = _event(inv)
    viewer, admin = inv.a.viewer, inv.a.admin
    created = _post(inv, viewer, event_id)
    assert created.status_code == 201, created.text
    note = created.json()
    assert (note["author_id"], note["version"], note["comment"]) == (viewer.user_id, 1, "restocked")
    url = f"/api/v1/events/{event_id}/notes/{note['id']}"
    patch = {"took_items": [{"item": "bread", "quantity": 1}]}
    edited = inv.client.patch(url, json=patch, headers=viewer.headers)
    assert edited.status_code == 200, edited.text
    assert edited.json()["took_items"] == [{"item": "bread", "quantity": 1}]
    assert edited.json()["added_items"] == NOTE["added_items"]  # untouched fields stay
    detail = inv.get(viewer, f"/api/v1/events/{event_id}").json()
    assert detail["has_notes"] is True and [n["id"] for n in detail["notes"]] == [note["id"]]
    assert inv.client.delete(url, headers=admin.headers).status_code == 204  # admin may
    assert inv.get(viewer, f"/api/v1/events/{event_id}/notes").json() == []
    assert inv.get(viewer, f"/api/v1/events/{event_id}").json()["has_notes"] is False
    assert inv.get(viewer, "/api/v1/events", q="bread").json()["items"] == []
    history = inv.get(viewer, f"{url}/history")
    assert history.status_code == 200
    rows = history.json()
    assert [(h["action"], h["actor_id"]) for h in rows] == [
        ("create", viewer.user_id),
        ("update", viewer.user_id),
        ("delete", admin.user_id),
    ]
    assert rows[1]["data"]["took_items"] == [{"item": "bread", "quantity": 1}]
    assert rows[2]["data"]["deleted"] is True
    assert _feed_kinds(inv, event_id) == ["created", "note", "note", "note"]
    # A deleted note cannot be edited or deleted again.
    assert inv.client.patch(url, json=patch, headers=admin.headers).status_code == 404
    assert inv.client.delete(url, headers=admin.headers).status_code == 404


def test_only_author_or_admin_changes_a_note(inv: Inventory) -> None:
    event_id = _event(inv)
    note = _post(inv, inv.a.admin, event_id).json()
    url = f"/api/v1/events/{event_id}/notes/{note['id']}"
    other_viewer = inv.a.viewer
    denied = inv.client.patch(url, json={"comment": "mine now"}, headers=other_viewer.headers)
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "forbidden"
    assert inv.client.delete(url, headers=other_viewer.headers).status_code == 403
    second_admin = actor(inv.ctx, inv.client, inv.a.id, "admin")
    assert (
        inv.client.patch(url, json={"comment": "fixed"}, headers=second_admin.headers).status_code
        == 200
    )
    with inv.ctx.db.system() as session:
        stored = session.get(EventNote, note["id"])
        assert stored is not None and stored.comment == "fixed" and stored.deleted_at is None


def test_other_tenant_gets_404_and_changes_nothing(inv: Inventory) -> None:
    event_id = _event(inv)
    note = _post(inv, inv.a.viewer, event_id).json()
    url = f"/api/v1/events/{event_id}/notes"
    note_url = f"{url}/{note['id']}"
    for who in (inv.b.admin, inv.b.viewer):
        calls = [
            inv.client.get(url, headers=who.headers),
            inv.client.post(url, json=NOTE, headers=who.headers),
            inv.client.patch(note_url, json={"comment": "x"}, headers=who.headers),
            inv.client.delete(note_url, headers=who.headers),
            inv.client.get(f"{note_url}/history", headers=who.headers),
        ]
        assert [c.status_code for c in calls] == [404] * 5, [c.text for c in calls]
    with inv.ctx.db.system() as session:
        notes = list(session.scalars(select(EventNote)))
        event = session.get(Event, event_id)
    assert [(n.id, n.comment, n.version, n.deleted_at) for n in notes] == [
        (note["id"], "restocked", 1, None)
    ]
    assert event is not None and event.has_notes
    assert _feed_kinds(inv, event_id) == ["created", "note"]


def test_invalid_notes_are_refused(inv: Inventory) -> None:
    event_id = _event(inv)
    bad = [
        {},
        {"added_items": [{"item": "milk", "quantity": 0}]},
        {"took_items": [{"item": "milk", "quantity": -1}]},
        {"comment": "ok", "author_id": "someone-else"},
    ]
    for body in bad:
        assert _post(inv, inv.a.viewer, event_id, body).status_code == 422, body
    note = _post(inv, inv.a.viewer, event_id, {"comment": "only a comment"}).json()
    url = f"/api/v1/events/{event_id}/notes/{note['id']}"
    emptied = inv.client.patch(url, json={"comment": ""}, headers=inv.a.viewer.headers)
    assert emptied.status_code == 422
    assert inv.get(inv.a.viewer, f"/api/v1/events/{event_id}/notes").json()[0]["comment"] == (
        "only a comment"
    )
