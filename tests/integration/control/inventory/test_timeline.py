"""The timeline over HTTP: filters, free-text search (incl. notes), detail, summary, 404s."""

from __future__ import annotations

import uuid

from tests.integration.control.inventory.conftest import Inventory


def ids(got: object) -> list[str]:
    assert hasattr(got, "json") and getattr(got, "status_code", None) == 200, got
    return [e["id"] for e in got.json()["items"]]


def test_filters_newest_first(inv: Inventory) -> None:
    a = inv.a
    door = a.summary(source_name="door", type="person_detected", label="person", zone=None)
    shelf = a.summary(source_name="shelf", zone="fridge")
    car = a.summary(
        source_kind="device", source_name="pi-yard", type="vehicle_detected", label="car"
    )
    late = a.summary(source_name="shelf")
    inv.ingest(door, shelf, car, late)
    inv.ingest(inv.b.summary(), tenant=inv.b)  # the other tenant's event never shows
    viewer = a.viewer
    assert ids(inv.get(viewer, "/api/v1/events")) == [
        late["id"],
        car["id"],
        shelf["id"],
        door["id"],
    ]
    assert ids(inv.get(viewer, "/api/v1/events", type="vehicle_detected")) == [car["id"]]
    assert ids(inv.get(viewer, "/api/v1/events", site=a.site, limit=1)) == [late["id"]]
    assert ids(inv.get(viewer, "/api/v1/events", site=inv.b.site)) == []
    window = {"since": shelf["started_at"], "until": late["started_at"]}
    assert ids(inv.get(viewer, "/api/v1/events", **window)) == [car["id"], shelf["id"]]
    assert ids(inv.get(viewer, "/api/v1/events", q="FRIDGE")) == [shelf["id"]]
    assert ids(inv.get(viewer, "/api/v1/events", q="pi-yard")) == [car["id"]]
    for wildcard in ("%", "detecte_"):  # LIKE wildcards in q are literal characters
        assert ids(inv.get(viewer, "/api/v1/events", q=wildcard)) == []
    assert ids(inv.get(viewer, "/api/v1/events", has_notes=True)) == []
    item = inv.get(viewer, "/api/v1/events", q="door").json()["items"][0]
    assert item["camera"] == "door" and item["camera_id"] and item["has_notes"] is False
    assert set(item) >= {"source_kind", "confidence", "version", "created_at", "updated_at"}


def test_search_finds_note_text_and_has_notes_filter(inv: Inventory) -> None:
    noted, plain = inv.a.summary(), inv.a.summary()
    inv.ingest(noted, plain)
    note = {"took_items": [{"item": "Oat milk", "quantity": 2}], "comment": "paid at till"}
    url = f"/api/v1/events/{noted['id']}/notes"
    assert inv.client.post(url, json=note, headers=inv.a.viewer.headers).status_code == 201
    viewer = inv.a.viewer
    assert ids(inv.get(viewer, "/api/v1/events", q="oat milk")) == [noted["id"]]
    assert ids(inv.get(viewer, "/api/v1/events", q="till")) == [noted["id"]]
    assert ids(inv.get(viewer, "/api/v1/events", has_notes=True)) == [noted["id"]]
    assert ids(inv.get(viewer, "/api/v1/events", has_notes=False)) == [plain["id"]]
    # A newer version from the edge keeps the note words searchable.
    inv.ingest({**noted, "version": 2, "zone": "till"})
    assert ids(inv.get(viewer, "/api/v1/events", q="oat milk")) == [noted["id"]]
    assert ids(inv.get(viewer, "/api/v1/events", q="oat", has_notes=True)) == [noted["id"]]


def test_detail_and_other_tenants_get_404(inv: Inventory) -> None:
    event = inv.a.summary()
    inv.ingest(event)
    got = inv.get(inv.a.viewer, f"/api/v1/events/{event['id']}")
    assert got.status_code == 200
    body = got.json()
    assert body["notes"] == [] and body["source_name"] == "front" and body["dwell_s"] == 4.0
    assert "search_text" not in body and "tenant_id" not in body
    for who in (inv.b.admin, inv.b.viewer):
        other = inv.get(who, f"/api/v1/events/{event['id']}")
        assert other.status_code == 404
        assert other.json()["error"]["code"] == "not_found"
    assert inv.get(inv.a.viewer, f"/api/v1/events/{uuid.uuid4()}").status_code == 404
    assert inv.client.get(f"/api/v1/events/{event['id']}").status_code == 401


def test_bad_parameters(inv: Inventory) -> None:
    viewer = inv.a.viewer
    bad_cursor = inv.get(viewer, "/api/v1/events", cursor="not-a-cursor")
    assert bad_cursor.status_code == 400 and "cursor" in bad_cursor.json()["error"]["message"]
    assert inv.get(viewer, "/api/v1/events", limit=0).status_code == 422
    assert inv.get(viewer, "/api/v1/events", limit=201).status_code == 422
    assert inv.get(viewer, "/api/v1/events", since="2026-03-01T09:00:00").status_code == 422
    assert inv.get(viewer, "/api/v1/events", since="yesterday").status_code == 422


def test_summary_counts(inv: Inventory) -> None:
    a = inv.a
    day1 = "2026-03-01T{}:00:00Z"
    day2 = "2026-03-02T{}:00:00Z"

    def at(stamp: str, **kw: object) -> dict[str, object]:
        return a.summary(started_at=stamp, ended_at=stamp, **kw)

    events = [
        at(day1.format("10"), source_name="door"),
        at(day1.format("11"), source_name="door", type="person_detected"),
        at(day1.format("23"), source_name="shelf"),
        at(day2.format("00"), source_kind="device", source_name="pi-1"),
        at(day2.format("05"), source_kind="device", source_name="pi-1", type="vehicle_detected"),
    ]
    inv.ingest(*events)
    inv.ingest(inv.b.summary(), tenant=inv.b)
    got = inv.get(a.viewer, "/api/v1/events/summary").json()
    assert got["total"] == 5 and got["interactions"] == 3
    assert got["by_type"] == {
        "interaction_detected": 3,
        "person_detected": 1,
        "vehicle_detected": 1,
    }
    assert got["by_day"] == [
        {"day": "2026-03-01", "count": 3, "interactions": 2},
        {"day": "2026-03-02", "count": 2, "interactions": 1},
    ]
    sources = {(s["source_kind"], s["source_name"]): s for s in got["by_source"]}
    assert (sources["camera", "door"]["count"], sources["camera", "door"]["interactions"]) == (2, 1)
    assert sources["camera", "door"]["camera_id"] is not None
    assert (sources["device", "pi-1"]["count"], sources["device", "pi-1"]["camera_id"]) == (2, None)
    door_id = sources["camera", "door"]["camera_id"]
    only_door = inv.get(a.viewer, "/api/v1/events/summary", camera=door_id).json()
    assert (only_door["total"], only_door["interactions"]) == (2, 1)
    day_two = inv.get(a.viewer, "/api/v1/events/summary", since="2026-03-02T00:00:00Z").json()
    assert day_two["by_type"] == {"interaction_detected": 1, "vehicle_detected": 1}
    other = inv.get(inv.b.viewer, "/api/v1/events/summary", site=a.site).json()
    assert other["total"] == 0 and other["by_source"] == []
