"""The operator's read API over real HTTP (uvicorn) and a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

import base64
import datetime as dt
import os
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from guardian.common.db import session_factory, utcnow
from guardian.common.seal import Sealer
from guardian.edge.app import create_app
from guardian.edge.context import EdgeContext
from guardian.edge.store.tables import Capture, Device, Event, EventCapture
from guardian.edge.store.tokens import create_token
from tests.capture_helpers import jpeg_bytes, png_bytes, serve_app
from tests.edge_fixtures import EdgeDb

BASE = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


JPEG, PNG = jpeg_bytes(40, 30), png_bytes(40, 30)


@dataclass
class Api:
    ctx: EdgeContext
    client: httpx.Client
    token: str

    def get(self, url: str, **params: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"}
        return self.client.get(url, params=params, headers=headers)


@pytest.fixture
def api(edge_db: EdgeDb) -> Iterator[Api]:
    ctx = EdgeContext(
        edge_db.settings, edge_db.engine, session_factory(edge_db.engine), Sealer(os.urandom(32))
    )
    ctx.settings.media_dir.mkdir(parents=True, exist_ok=True)
    with ctx.sessions.begin() as session:
        token = create_token(session, "tests")
        for name in ("pi-1", "pi-2"):
            session.add(Device(id=name, key_sealed=b"k", key_fingerprint="f", created_at=utcnow()))
    with serve_app(create_app(ctx)) as url, httpx.Client(base_url=url) as client:
        yield Api(ctx, client, token)


def add_event(
    ctx: EdgeContext,
    started_at: dt.datetime,
    *,
    device: str = "pi-1",
    type_: str = "interaction_detected",
    captures: Sequence[str] = (),
) -> str:
    eid = str(uuid.uuid4())
    with ctx.sessions.begin() as session:
        session.add(
            Event(
                id=eid,
                type=type_,
                source_kind="device",
                source_id=device,
                started_at=started_at,
                ended_at=started_at + dt.timedelta(seconds=5),
                person_count=2,
                best_score=0.87,
                details={"boxes": [[0.1, 0.2, 0.3, 0.4]]},
                created_at=started_at,
                updated_at=started_at,
            )
        )
        session.flush()
        session.add_all(EventCapture(event_id=eid, capture_id=c) for c in captures)
    return eid


def add_capture(
    ctx: EdgeContext,
    seq: int,
    *,
    data: bytes = JPEG,
    content_type: str = "image/jpeg",
    file_state: str = "present",
    captured_at: dt.datetime = BASE,
) -> tuple[str, Path]:
    cid = str(uuid.uuid4())
    ext = "png" if content_type == "image/png" else "jpg"
    path = ctx.settings.media_dir / "captures" / "pi-1" / "2026" / "03" / "01" / f"{cid}.{ext}"
    path.parent.mkdir(parents=True, exist_ok=True)
    if file_state == "present":
        path.write_bytes(data)
    with ctx.sessions.begin() as session:
        session.add(
            Capture(
                id=cid,
                device_id="pi-1",
                device_seq=seq,
                sha256="ab" * 32,
                size_bytes=len(data),
                content_type=content_type,
                width=40,
                height=30,
                captured_at=captured_at,
                received_at=captured_at + dt.timedelta(seconds=1),
                storage_uri=path.absolute().as_uri(),
                status="processed",
                person_count=1,
                detections={"people": [{"score": 0.87}]},
                file_state=file_state,
                file_state_at=None if file_state == "present" else BASE,
            )
        )
    return cid, path


def ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def test_every_read_route_needs_a_valid_admin_token(api: Api) -> None:
    cid, _ = add_capture(api.ctx, 1)
    eid = add_event(api.ctx, BASE, captures=[cid])
    routes = ["/v1/events", f"/v1/events/{eid}", f"/v1/captures/{cid}", f"/v1/captures/{cid}/image"]
    for url in routes:
        for headers in ({}, {"Authorization": "Bearer gea_wrong"}, {"Authorization": "Basic x"}):
            response = api.client.get(url, headers=headers)
            assert response.status_code == 401, (url, headers)
            assert response.json()["error"]["code"] == "unauthorized"
            assert response.headers["www-authenticate"] == "Bearer"
        assert api.get(url).status_code == 200


def test_events_filter_by_type_device_and_time(api: Api) -> None:
    a = add_event(api.ctx, BASE, device="pi-1")
    b = add_event(api.ctx, BASE + dt.timedelta(minutes=1), device="pi-2")
    c = add_event(api.ctx, BASE + dt.timedelta(minutes=2), device="pi-1", type_="door_opened")
    assert ids(api.get("/v1/events")) == [c, b, a]
    assert ids(api.get("/v1/events", type="interaction_detected")) == [b, a]
    assert ids(api.get("/v1/events", device="pi-1")) == [c, a]
    assert ids(api.get("/v1/events", device="pi-1", type="door_opened")) == [c]
    assert ids(api.get("/v1/events", since="2026-03-01T09:01:00Z")) == [c, b]  # inclusive
    assert ids(api.get("/v1/events", until="2026-03-01T09:01:00Z")) == [a]  # exclusive
    # The same instant in another zone.
    assert ids(api.get("/v1/events", since="2026-03-01T10:01:00+01:00")) == [c, b]
    assert ids(api.get("/v1/events", device="nobody")) == []


@pytest.mark.parametrize(
    "value",
    ["2026-03-01T09:00:00", "2026-03-01", "yesterday", "1772355600", "2026-13-01T00:00:00Z"],
)
def test_timestamps_without_a_zone_or_not_rfc3339_are_rejected(api: Api, value: str) -> None:
    response = api.get("/v1/events", since=value)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert error["message"].startswith("since:")
    assert error["fields"][0]["field"] == "since"


def test_keyset_pages_return_every_event_once_newest_first(api: Api) -> None:
    # 25 events, three at a time sharing a start: the id breaks ties.
    starts = {add_event(api.ctx, BASE + dt.timedelta(seconds=i // 3)): i // 3 for i in range(25)}
    expected = sorted(starts, key=lambda eid: (starts[eid], eid), reverse=True)
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 10} | ({"cursor": cursor} if cursor else {})
        body = api.get("/v1/events", **params).json()
        seen += [item["id"] for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
        if pages == 1:  # a newer event arriving meanwhile does not shift later pages
            add_event(api.ctx, BASE + dt.timedelta(hours=1))
    assert pages == 3
    assert seen == expected


def test_a_full_last_page_has_no_next_cursor(api: Api) -> None:
    for i in range(4):
        add_event(api.ctx, BASE + dt.timedelta(seconds=i))
    body = api.get("/v1/events", limit=4).json()
    assert len(body["items"]) == 4 and body["next_cursor"] is None


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor!",
        base64.urlsafe_b64encode(b"{}").decode(),
        base64.urlsafe_b64encode(b'["2026-03-01T09:00:00", "x"]').decode(),  # no zone
        base64.urlsafe_b64encode(b'["2026-03-01T09:00:00Z", 7]').decode(),
        "A" * 300,
    ],
)
def test_a_bad_cursor_is_a_400(api: Api, cursor: str) -> None:
    response = api.get("/v1/events", cursor=cursor)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"
    assert "cursor" in response.json()["error"]["message"]


@pytest.mark.parametrize("limit", [0, 501, -1])
def test_limit_is_bounded(api: Api, limit: int) -> None:
    assert api.get("/v1/events", limit=limit).status_code == 422


def test_one_event_with_its_captures_and_details(api: Api) -> None:
    later, _ = add_capture(api.ctx, 2, captured_at=BASE + dt.timedelta(seconds=3))
    first, _ = add_capture(api.ctx, 1, captured_at=BASE)
    eid = add_event(api.ctx, BASE, captures=[later, first])
    body = api.get(f"/v1/events/{eid}").json()
    assert body["capture_ids"] == [first, later]
    assert body["details"] == {"boxes": [[0.1, 0.2, 0.3, 0.4]]}
    assert body["started_at"] == "2026-03-01T09:00:00Z"
    assert body["source_id"] == "pi-1" and body["person_count"] == 2
    assert body["links"]["self"] == f"/v1/events/{eid}"
    listed = api.get("/v1/events").json()["items"][0]
    assert listed["capture_ids"] == [first, later] and "details" not in listed
    missing = api.get(f"/v1/events/{uuid.uuid4()}")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_capture_metadata(api: Api) -> None:
    cid, _ = add_capture(api.ctx, 7)
    eid = add_event(api.ctx, BASE, captures=[cid])
    body = api.get(f"/v1/captures/{cid}").json()
    assert body["id"] == cid and body["device_id"] == "pi-1" and body["device_seq"] == 7
    assert body["size"] == len(JPEG) and body["content_type"] == "image/jpeg"
    assert (body["width"], body["height"]) == (40, 30)
    assert body["captured_at"] == "2026-03-01T09:00:00Z"
    assert body["received_at"] == "2026-03-01T09:00:01Z"
    assert body["status"] == "processed" and body["person_count"] == 1
    assert body["detections"] == {"people": [{"score": 0.87}]}
    assert body["file_state"] == "present" and body["event_id"] == eid
    assert body["links"] == {
        "self": f"/v1/captures/{cid}",
        "image": f"/v1/captures/{cid}/image",
        "event": f"/v1/events/{eid}",
    }
    assert api.get(f"/v1/captures/{uuid.uuid4()}").status_code == 404


@pytest.mark.parametrize(("data", "content_type"), [(JPEG, "image/jpeg"), (PNG, "image/png")])
def test_image_bytes_and_content_type(api: Api, data: bytes, content_type: str) -> None:
    cid, _ = add_capture(api.ctx, 1, data=data, content_type=content_type)
    response = api.get(f"/v1/captures/{cid}/image")
    assert response.status_code == 200
    assert response.content == data
    assert response.headers["content-type"] == content_type
    assert response.headers["content-length"] == str(len(data))
    assert api.get(f"/v1/captures/{uuid.uuid4()}/image").status_code == 404


def test_a_pruned_image_is_gone(api: Api) -> None:
    cid, _ = add_capture(api.ctx, 1, file_state="pruned")
    response = api.get(f"/v1/captures/{cid}/image")
    assert response.status_code == 410
    error = response.json()["error"]
    assert error["code"] == "gone" and error["file_state"] == "pruned"
    assert "pruned" in error["message"] and error["file_state_at"].startswith("2026-03-01")
    assert api.get(f"/v1/captures/{cid}").json()["links"]["image"] is None


def test_a_vanished_file_is_marked_missing_and_answers_410(api: Api) -> None:
    cid, path = add_capture(api.ctx, 1)
    path.unlink()
    response = api.get(f"/v1/captures/{cid}/image")
    assert response.status_code == 410
    assert response.json()["error"]["file_state"] == "missing"
    meta = api.get(f"/v1/captures/{cid}").json()
    assert meta["file_state"] == "missing" and meta["file_state_at"] is not None
    assert api.get(f"/v1/captures/{cid}/image").status_code == 410  # and stays so


def test_openapi_documents_the_read_api(api: Api) -> None:
    schema = api.client.get("/openapi.json").json()
    assert {"/v1/events", "/v1/events/{event_id}", "/v1/captures/{capture_id}/image"} <= set(
        schema["paths"]
    )
    page = schema["components"]["schemas"]["EventPage"]
    assert set(page["properties"]) == {"items", "next_cursor"}
    links = schema["components"]["schemas"]["CaptureLinks"]
    assert "self" in links["properties"]
