"""Camera events in the read API: the camera filter, their fields, and their media files."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from guardian.common.db import session_factory, utcnow
from guardian.common.seal import Sealer
from guardian.edge.app import create_app
from guardian.edge.context import EdgeContext
from guardian.edge.store.tables import Device, Event, EventMedia
from guardian.edge.store.tokens import create_token
from tests.capture_helpers import jpeg_bytes, serve_app
from tests.edge_fixtures import EdgeDb

BASE = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
JPEG = jpeg_bytes(64, 48)
# Not a playable MP4, but byte-exact ranges are what the endpoint must get right.
CLIP = bytes(range(256)) * 40


@dataclass
class Api:
    ctx: EdgeContext
    client: httpx.Client
    token: str

    def get(self, url: str, headers: dict[str, str] | None = None, **params: Any) -> Any:
        auth = {"Authorization": f"Bearer {self.token}", **(headers or {})}
        return self.client.get(url, params=params, headers=auth)


@pytest.fixture
def api(edge_db: EdgeDb) -> Iterator[Api]:
    ctx = EdgeContext(
        edge_db.settings, edge_db.engine, session_factory(edge_db.engine), Sealer(os.urandom(32))
    )
    ctx.settings.media_dir.mkdir(parents=True, exist_ok=True)
    with ctx.sessions.begin() as session:
        token = create_token(session, "tests")
        session.add(Device(id="pi-1", key_sealed=b"k", key_fingerprint="f", created_at=utcnow()))
    with serve_app(create_app(ctx)) as url, httpx.Client(base_url=url) as client:
        yield Api(ctx, client, token)


def camera_event(
    ctx: EdgeContext,
    started_at: dt.datetime,
    *,
    camera: str = "front",
    type_: str = "interaction_detected",
    details: dict[str, Any] | None = None,
) -> str:
    eid = str(uuid.uuid4())
    interaction = type_ == "interaction_detected"
    with ctx.sessions.begin() as session:
        session.add(
            Event(
                id=eid,
                type=type_,
                source_kind="camera",
                source_id=camera,
                started_at=started_at,
                ended_at=started_at + dt.timedelta(seconds=4),
                person_count=1,
                best_score=0.8,
                details=details
                if details is not None
                else {
                    "camera": camera,
                    "label": "vehicle" if type_ == "vehicle_detected" else "person",
                    "track_id": 7,
                    "zones": ["shelf"] if interaction else [],
                    "zone": "shelf" if interaction else None,
                    "dwell_s": 3.5 if interaction else None,
                    "state": "ended",
                    "person_count": 1,
                    "peak_person_count": 2,
                },
                created_at=started_at,
                updated_at=started_at,
            )
        )
    return eid


def device_event(ctx: EdgeContext, started_at: dt.datetime, device: str = "pi-1") -> str:
    eid = str(uuid.uuid4())
    with ctx.sessions.begin() as session:
        session.add(
            Event(
                id=eid,
                type="interaction_detected",
                source_kind="device",
                source_id=device,
                started_at=started_at,
                ended_at=started_at,
                person_count=1,
                best_score=0.9,
                details={"boxes": []},
                created_at=started_at,
                updated_at=started_at,
            )
        )
    return eid


def add_media(
    ctx: EdgeContext,
    event_id: str,
    kind: str,
    *,
    state: str = "present",
    data: bytes | None = None,
    write: bool = True,
) -> Path:
    ext = "mp4" if kind == "clip" else "jpg"
    rel = f"events/front/2026/03/01/{event_id}-{kind}.{ext}"
    path = ctx.settings.media_dir / rel
    if write:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data if data is not None else (CLIP if kind == "clip" else JPEG))
    with ctx.sessions.begin() as session:
        session.add(
            EventMedia(
                event_id=event_id,
                kind=kind,
                camera="front",
                state=state,
                path=rel if state != "pending" else None,
                content_type="video/mp4" if kind == "clip" else "image/jpeg",
                size_bytes=path.stat().st_size if write else None,
                meta={"camera": "front"},
                last_error="no segments" if state == "failed" else None,
                created_at=BASE,
                updated_at=BASE,
            )
        )
    return path


def ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def test_the_camera_filter_combines_with_type_time_and_cursor(api: Api) -> None:
    minute = dt.timedelta(minutes=1)
    a = camera_event(api.ctx, BASE, type_="person_detected")
    b = camera_event(api.ctx, BASE + minute)
    c = camera_event(api.ctx, BASE + 2 * minute, camera="back")
    d = device_event(api.ctx, BASE + 3 * minute)
    e = camera_event(api.ctx, BASE + 4 * minute, type_="vehicle_detected")
    assert ids(api.get("/v1/events")) == [e, d, c, b, a]
    assert ids(api.get("/v1/events", camera="front")) == [e, b, a]
    assert ids(api.get("/v1/events", camera="back")) == [c]
    assert ids(api.get("/v1/events", camera="pi-1")) == []  # a device is not a camera
    assert ids(api.get("/v1/events", device="pi-1")) == [d]
    assert ids(api.get("/v1/events", camera="front", type="person_detected")) == [a]
    assert ids(api.get("/v1/events", camera="front", since="2026-03-01T09:01:00Z")) == [e, b]
    assert ids(api.get("/v1/events", camera="front", until="2026-03-01T09:04:00Z")) == [b, a]
    first = api.get("/v1/events", camera="front", limit=2).json()
    assert [i["id"] for i in first["items"]] == [e, b]
    rest = api.get("/v1/events", camera="front", limit=2, cursor=first["next_cursor"])
    assert ids(rest) == [a] and rest.json()["next_cursor"] is None


def test_camera_events_carry_their_details_and_media_links(api: Api) -> None:
    eid = camera_event(api.ctx, BASE)
    add_media(api.ctx, eid, "snapshot")
    add_media(api.ctx, eid, "thumbnail", state="failed", write=False)
    add_media(api.ctx, eid, "clip", state="pending", write=False)
    did = device_event(api.ctx, BASE - dt.timedelta(minutes=1))
    items = {i["id"]: i for i in api.get("/v1/events").json()["items"]}
    cam = items[eid]
    assert (cam["camera"], cam["label"], cam["zone"], cam["dwell_s"]) == (
        "front",
        "person",
        "shelf",
        3.5,
    )
    assert cam["zones"] == ["shelf"] and cam["state"] == "ended"
    assert cam["links"]["snapshot"] == f"/v1/events/{eid}/snapshot.jpg"
    assert cam["links"]["thumbnail"] is None  # failed: it will never be served
    assert cam["links"]["clip"] == f"/v1/events/{eid}/clip.mp4"  # pending: soon
    dev = items[did]
    for key in ("camera", "label", "zone", "dwell_s", "zones", "state"):
        assert dev[key] is None, key
    assert dev["links"]["snapshot"] is None and dev["links"]["clip"] is None
    detail = api.get(f"/v1/events/{eid}").json()
    assert detail["details"]["track_id"] == 7 and detail["camera"] == "front"
    assert detail["links"]["snapshot"] == cam["links"]["snapshot"]


def test_odd_details_do_not_break_the_listing(api: Api) -> None:
    eid = camera_event(
        api.ctx, BASE, type_="person_detected", details={"zones": "shelf", "dwell_s": True}
    )
    item = api.get("/v1/events").json()["items"][0]
    assert item["id"] == eid and item["camera"] == "front"  # falls back to the source id
    assert item["zones"] is None and item["dwell_s"] is None and item["label"] is None
    assert item["links"]["snapshot"] is None


@pytest.mark.parametrize(
    ("kind", "suffix", "content_type"),
    [
        ("snapshot", "snapshot.jpg", "image/jpeg"),
        ("thumbnail", "thumbnail.jpg", "image/jpeg"),
        ("clip", "clip.mp4", "video/mp4"),
    ],
)
def test_media_files_are_served_with_their_type(
    api: Api, kind: str, suffix: str, content_type: str
) -> None:
    eid = camera_event(api.ctx, BASE)
    path = add_media(api.ctx, eid, kind)
    response = api.get(f"/v1/events/{eid}/{suffix}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == content_type
    assert response.content == path.read_bytes()
    assert response.headers["content-length"] == str(path.stat().st_size)


def test_a_clip_supports_range_requests(api: Api) -> None:
    eid = camera_event(api.ctx, BASE)
    add_media(api.ctx, eid, "clip")
    whole = api.get(f"/v1/events/{eid}/clip.mp4")
    assert whole.headers["accept-ranges"] == "bytes"
    part = api.get(f"/v1/events/{eid}/clip.mp4", headers={"Range": "bytes=100-355"})
    assert part.status_code == 206
    assert part.content == CLIP[100:356]
    assert part.headers["content-range"] == f"bytes 100-355/{len(CLIP)}"
    assert part.headers["content-type"] == "video/mp4"
    tail = api.get(f"/v1/events/{eid}/clip.mp4", headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == CLIP[-10:]


def test_media_that_does_not_exist_yet_is_a_404_saying_why(api: Api) -> None:
    eid = camera_event(api.ctx, BASE)
    add_media(api.ctx, eid, "clip", state="pending", write=False)
    add_media(api.ctx, eid, "thumbnail", state="failed", write=False)
    cases = {
        f"/v1/events/{uuid.uuid4()}/snapshot.jpg": "no event",
        f"/v1/events/{eid}/snapshot.jpg": "has no snapshot",
        f"/v1/events/{eid}/clip.mp4": "not ready yet",
        f"/v1/events/{eid}/thumbnail.jpg": "could not be made",
        f"/v1/events/{device_event(api.ctx, BASE)}/clip.mp4": "has no clip",
    }
    for url, words in cases.items():
        response = api.get(url)
        assert response.status_code == 404, url
        error = response.json()["error"]
        assert error["code"] == "not_found" and words in error["message"], url


def test_pruned_media_is_gone(api: Api) -> None:
    eid = camera_event(api.ctx, BASE)
    add_media(api.ctx, eid, "clip", state="pruned", write=False)
    response = api.get(f"/v1/events/{eid}/clip.mp4")
    assert response.status_code == 410
    error = response.json()["error"]
    assert error["code"] == "gone" and "removed by retention" in error["message"]
    assert error["state"] == "pruned" and error["state_at"].startswith("2026-03-01")
    assert api.get("/v1/events").json()["items"][0]["links"]["clip"] is None


def test_a_vanished_media_file_is_marked_missing_and_answers_410(api: Api) -> None:
    eid = camera_event(api.ctx, BASE)
    path = add_media(api.ctx, eid, "snapshot")
    path.unlink()
    response = api.get(f"/v1/events/{eid}/snapshot.jpg")
    assert response.status_code == 410
    assert response.json()["error"]["state"] == "missing"
    with api.ctx.sessions() as session:
        row = session.get(EventMedia, (eid, "snapshot"))
        assert row is not None and row.state == "missing" and row.updated_at > BASE
    again = api.get(f"/v1/events/{eid}/snapshot.jpg")
    assert again.status_code == 410 and "is missing" in again.json()["error"]["message"]


def test_a_media_path_outside_the_media_folder_is_never_served(api: Api, tmp_path: Path) -> None:
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(JPEG)
    eid = camera_event(api.ctx, BASE)
    now = utcnow()
    with api.ctx.sessions.begin() as session:
        session.add(
            EventMedia(
                event_id=eid,
                kind="snapshot",
                camera="front",
                state="present",
                path="../../secret.jpg",
                content_type="image/jpeg",
                created_at=now,
                updated_at=now,
            )
        )
    assert api.get(f"/v1/events/{eid}/snapshot.jpg").status_code == 410


def test_media_routes_need_the_admin_token(api: Api) -> None:
    eid = camera_event(api.ctx, BASE)
    add_media(api.ctx, eid, "snapshot")
    assert api.client.get(f"/v1/events/{eid}/snapshot.jpg").status_code == 401
    assert api.get(f"/v1/events/{eid}/snapshot.jpg").status_code == 200
