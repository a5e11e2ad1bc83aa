"""UI pages over the real services: tenant scoping, filters, notes, escaping, admin-only
pages, onboarding and the security headers."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import update

from guardian.control.store.tables import Relay
from guardian.control.web.security import ui_csp
from tests.integration.control.inventory.conftest import T0, Inventory, rfc3339
from tests.integration.control.web.conftest import browser, sign_in

RELAY = "https://relay.example:8443"
XSS = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
PAGES = ("/", "/events", "/interactions", "/cameras", "/sites", "/profile")


def _event_ids(html: str) -> list[str]:
    return re.findall(r'data-event-id="([0-9a-f-]{36})"', html)


def test_timeline_shows_only_the_tenants_events_and_filters_them(web_any: Inventory) -> None:
    inv = web_any
    a1 = inv.ingest(inv.a.summary(source_name="front"))[0]["id"]
    a2 = inv.ingest(inv.a.summary(source_name="till", type="person_detected", zone="door"))[0]["id"]
    b1 = inv.ingest(inv.b.summary(), tenant=inv.b)[0]["id"]
    b = sign_in(inv.ctx, inv, inv.a.viewer)
    page = b.get("/events")
    assert page.status_code == 200
    assert _event_ids(page.text) == [a2, a1]  # newest first, never tenant B's
    assert b1 not in page.text
    assert _event_ids(b.get("/events?type=person_detected").text) == [a2]
    assert _event_ids(b.get("/events?q=till").text) == [a2]
    cameras = inv.get(inv.a.admin, "/api/v1/cameras").json()["cameras"]
    front = next(c["id"] for c in cameras if c["edge_name"] == "front")
    assert _event_ids(b.get(f"/events?camera={front}").text) == [a1]
    day = T0.date()
    assert _event_ids(b.get(f"/events?since={day}&until={day}").text) == [a2, a1]
    after = (T0 + dt.timedelta(days=1)).date()
    assert _event_ids(b.get(f"/events?since={after}").text) == []
    assert b.get("/events?since=yesterday").status_code == 422
    assert b.get("/events?until=2026-13-01").status_code == 422
    assert b.get("/events?cursor=garbage").status_code == 400
    # Another tenant's event is a 404 page, as in the API.
    assert b.get(f"/events/{b1}").status_code == 404


def test_timeline_pages_with_a_cursor(web: Inventory) -> None:
    ids = [r["id"] for r in web.ingest(*(web.a.summary() for _ in range(30)))]
    b = sign_in(web.ctx, web, web.a.viewer)
    first = b.get("/events").text
    assert _event_ids(first) == list(reversed(ids))[:25]
    older = re.search(r'href="(/events\?cursor=[^"]+)" rel="next"', first)
    assert older is not None
    second = b.get(older.group(1).replace("&amp;", "&")).text
    assert _event_ids(second) == list(reversed(ids))[25:]


def test_notes_are_added_and_edited_and_stay_text(web: Inventory) -> None:
    recent = dt.datetime.fromtimestamp(web.ctx.clock(), dt.UTC) - dt.timedelta(hours=1)
    event_id = web.ingest(web.a.summary(started_at=rfc3339(recent)))[0]["id"]
    b = sign_in(web.ctx, web, web.a.viewer)
    got = b.post(
        f"/events/{event_id}/notes",
        {"added_items": "6 milk 1l\n2 x bread", "took_items": "", "comment": XSS},
    )
    assert got.status_code == 303, got.text
    assert got.headers["location"].startswith(f"/events/{event_id}?done=note-added#note-")
    notes = web.get(web.a.admin, f"/api/v1/events/{event_id}").json()["notes"]
    assert notes[0]["added_items"] == [
        {"item": "milk 1l", "quantity": 6},
        {"item": "bread", "quantity": 2},
    ]
    page = b.get(f"/events/{event_id}").text
    assert XSS not in page and "&lt;script&gt;alert(2)&lt;/script&gt;" in page
    note_id = notes[0]["id"]
    got = b.post(
        f"/events/{event_id}/notes/{note_id}",
        {"added_items": "5 milk 1l", "took_items": "1 bread", "comment": "recounted"},
    )
    assert got.status_code == 303
    note = web.get(web.a.admin, f"/api/v1/events/{event_id}").json()["notes"][0]
    assert (note["version"], note["comment"]) == (2, "recounted")
    assert note["took_items"] == [{"item": "bread", "quantity": 1}]
    # An empty note is refused with the service's message; nothing changes.
    got = b.post(f"/events/{event_id}/notes", {"added_items": "", "comment": " "})
    assert got.status_code == 422 and "a note needs items or a comment" in got.text.lower()
    # An admin may edit it; another tenant's admin finds no such event.
    admin = sign_in(web.ctx, web, web.a.admin)
    edited = admin.post(f"/events/{event_id}/notes/{note_id}", {"comment": "admin edit"})
    assert edited.status_code == 303
    stranger = sign_in(web.ctx, web, web.b.admin)
    assert stranger.post(f"/events/{event_id}/notes/{note_id}", {"comment": "x"}).status_code == 404
    interactions = b.get("/interactions").text
    assert "admin edit" in interactions and f'id="event-{event_id}"' in interactions


def test_camera_names_are_escaped_everywhere(web: Inventory) -> None:
    web.ingest(web.a.summary(source_name="front"))
    admin = sign_in(web.ctx, web, web.a.admin)
    camera = web.get(web.a.admin, "/api/v1/cameras").json()["cameras"][0]
    got = admin.post(f"/cameras/{camera['id']}", {"display_name": XSS, "labels": "door, <b>x</b>"})
    assert got.status_code == 303, got.text
    assert web.get(web.a.admin, f"/api/v1/cameras/{camera['id']}").json()["labels"] == [
        "door",
        "<b>x</b>",
    ]
    for path in ("/", "/cameras", "/events", "/interactions"):
        page = admin.get(path).text
        assert XSS not in page and "<b>x</b>" not in page, path
        assert "&lt;script&gt;" in page or path == "/interactions", path


def test_viewers_see_no_admin_controls_and_get_403_by_url(web: Inventory) -> None:
    viewer = sign_in(web.ctx, web, web.a.viewer)
    web.ingest(web.a.summary())
    camera = web.get(web.a.admin, "/api/v1/cameras").json()["cameras"][0]
    for path in PAGES:
        page = viewer.get(path)
        assert page.status_code == 200, path
        assert 'href="/users"' not in page.text, path
    assert 'action="/cameras/' not in viewer.get("/cameras").text
    assert 'action="/sites"' not in viewer.get("/sites").text
    assert viewer.get("/users").status_code == 403
    assert viewer.post("/users", {"email": "x@example.com", "role": "admin"}).status_code == 403
    assert viewer.post(f"/cameras/{camera['id']}", {"display_name": "mine"}).status_code == 403
    assert viewer.post("/sites", {"name": "rogue"}).status_code == 403
    assert web.get(web.a.admin, f"/api/v1/cameras/{camera['id']}").json()["display_name"] is None
    admin = sign_in(web.ctx, web, web.a.admin)
    assert 'href="/users"' in admin.get("/").text
    assert admin.get("/users").status_code == 200


def test_admin_adds_a_site_and_sees_the_enrol_command(web: Inventory) -> None:
    admin = sign_in(web.ctx, web, web.a.admin)
    got = admin.post("/sites", {"name": "Harbour <kiosk>"})
    assert got.status_code == 201
    command = re.search(r'<code id="enroll-command">([^<]+)</code>', got.text)
    assert command is not None
    # The relay of the test tenant was added with https://relay.example (default port).
    assert re.fullmatch(
        r"guardian edge enroll --relay relay\.example --token gbt_\S+", command.group(1)
    )
    assert "Harbour &lt;kiosk&gt;" in got.text
    sites = web.get(web.a.admin, "/api/v1/sites").json()["sites"]
    assert "Harbour <kiosk>" in {s["name"] for s in sites}
    assert admin.post("/sites", {"name": "  "}).status_code == 422


def test_admin_manages_users(web: Inventory) -> None:
    admin = sign_in(web.ctx, web, web.a.admin)
    got = admin.post(
        "/users", {"email": "New.Clerk@example.com", "role": "viewer", "password": "long enough pw"}
    )
    assert got.status_code == 303, got.text
    users = web.get(web.a.admin, "/api/v1/users").json()["users"]
    clerk = next(u for u in users if u["email"] == "new.clerk@example.com")
    assert admin.post(f"/users/{clerk['id']}", {"action": "disable"}).status_code == 303
    assert web.get(web.a.admin, f"/api/v1/users/{clerk['id']}").json()["disabled"] is True
    taken = admin.post("/users", {"email": "new.clerk@example.com", "role": "viewer"})
    assert taken.status_code == 409 and "already exists" in taken.text
    # The last admin cannot demote themselves.
    got = admin.post(f"/users/{web.a.admin.user_id}", {"action": "role", "role": "viewer"})
    assert got.status_code == 409


@pytest.mark.parametrize("path", [*PAGES, "/users", "/login"])
def test_every_ui_response_has_the_csp_and_framing_headers(web: Inventory, path: str) -> None:
    b = sign_in(web.ctx, web, web.a.admin) if path != "/login" else browser(web.ctx, web)
    got = b.get(path)
    csp = got.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert "frame-ancestors 'none'" in csp
    assert got.headers["x-frame-options"] == "DENY"
    assert got.headers["referrer-policy"] == "no-referrer"
    assert "no-store" in got.headers["cache-control"]
    assert got.status_code == 200
    assert "<script>" not in got.text  # no inline script at all
    # The JSON API keeps its own stricter policy.
    assert (
        web.client.get("/healthz")
        .headers["content-security-policy"]
        .startswith("default-src 'none'")
    )


def test_csp_names_the_relay_for_media() -> None:
    csp = ui_csp(["https://relay.example:8443"])
    assert "media-src 'self' https://relay.example:8443" in csp
    assert "connect-src 'self' https://relay.example:8443" in csp
    assert "img-src 'self' data: https://relay.example:8443" in csp


def test_dashboard_counts_interactions(web: Inventory) -> None:
    now = dt.datetime.fromtimestamp(web.ctx.clock(), dt.UTC)
    web.ingest(
        web.a.summary(started_at=rfc3339(now - dt.timedelta(minutes=5))),
        web.a.summary(started_at=rfc3339(now - dt.timedelta(minutes=3))),
        web.a.summary(started_at=rfc3339(now - dt.timedelta(days=3))),
        web.a.summary(started_at=rfc3339(now - dt.timedelta(days=30))),
        web.a.summary(started_at=rfc3339(now - dt.timedelta(minutes=2)), type="person_detected"),
    )
    page = sign_in(web.ctx, web, web.a.viewer).get("/").text
    today = re.search(r'data-kpi="today">(\d+)<', page)
    week = re.search(r'data-kpi="week">(\d+)<', page)
    assert today is not None and week is not None
    assert (int(today.group(1)), int(week.group(1))) == (2, 3)
    assert page.count("<rect x=") == 7


def test_fresh_media_links_need_csrf_and_the_tenants_event(web: Inventory) -> None:
    event_id = web.ingest(web.a.summary())[0]["id"]
    b = sign_in(web.ctx, web, web.a.viewer)
    assert b.client.post(f"/events/{event_id}/media").status_code == 403  # no CSRF token
    headers = {"X-CSRF-Token": b.csrf()}
    # The relay has no public URL yet: a clear reason, no links.
    got = b.client.post(f"/events/{event_id}/media", headers=headers)
    assert got.status_code == 503
    assert got.json()["clip"] is None and "public url" in got.json()["problem"].lower()
    page = b.get(f"/events/{event_id}")
    assert "Clip not available" in page.text
    with web.ctx.db.system() as session:
        session.execute(update(Relay).values(public_url=RELAY))
    got = b.client.post(f"/events/{event_id}/media", headers=headers)
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["clip"]["url"].startswith(f"{RELAY}/v1/media/{event_id}/clip?token=")
    assert body["snapshot"]["url"].startswith(f"{RELAY}/v1/media/{event_id}/snapshot?")
    assert body["boxes_url"].startswith(f"{RELAY}/v1/media/{event_id}/boxes?")
    page = b.get(f"/events/{event_id}")
    csp = page.headers["content-security-policy"]
    assert f"media-src 'self' {RELAY};" in csp and f"connect-src 'self' {RELAY};" in csp
    assert 'id="clip-player"' in page.text and "Download clip" in page.text
    # Other pages do not open the policy to the relay.
    assert RELAY not in b.get("/events").headers["content-security-policy"]
    other = web.ingest(web.b.summary(), tenant=web.b)[0]["id"]
    assert b.client.post(f"/events/{other}/media", headers=headers).status_code == 404
