"""The camera registry on a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from pydantic import ValidationError
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, sessionmaker

from guardian.common.db import session_factory, utcnow
from guardian.edge.camera.config import CameraConfig
from guardian.edge.store.cameras import (
    CameraExists,
    CameraNotFound,
    add_camera,
    camera_config,
    camera_status,
    camera_statuses,
    get_camera,
    list_cameras,
    remove_camera,
    update_camera,
)
from guardian.edge.store.tables import CameraStatus, Event, EventMedia, Recording
from tests.edge_fixtures import EdgeDb

SHELF = {"name": "shelf", "polygon": [[0.1, 0.5], [0.6, 0.5], [0.6, 1.0]], "interaction": True}


@pytest.fixture
def sessions(edge_db: EdgeDb) -> sessionmaker[Session]:
    return session_factory(edge_db.engine)


def cam(name: str = "front", **settings: object) -> CameraConfig:
    return CameraConfig.model_validate({"name": name, "url": "rtsp://cam/s", **settings})


def test_add_get_and_list(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        add_camera(s, cam("front", zones=[SHELF]))
        add_camera(s, cam("back", enabled=False))
    with sessions() as s:
        front = get_camera(s, "front")
        assert front.version == 1 and front.enabled and front.created_at == front.updated_at
        assert camera_config(front) == cam("front", zones=[SHELF])
        assert not get_camera(s, "back").enabled
        assert [c.name for c in list_cameras(s)] == ["back", "front"]
        with pytest.raises(CameraNotFound, match="unknown camera 'side'"):
            get_camera(s, "side")


def test_a_name_is_registered_once(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as s:
        add_camera(s, cam(url="rtsp://first/s"))
    with pytest.raises(CameraExists, match="already exists"), sessions.begin() as s:
        add_camera(s, cam(url="rtsp://second/s"))
    with sessions() as s:
        assert camera_config(get_camera(s, "front")).url == "rtsp://first/s"


def test_a_name_added_concurrently_is_an_exists_error(pg_edge_db: EdgeDb) -> None:
    # On PostgreSQL another transaction can insert the name between the check and the
    # flush (SQLite's immediate transactions serialise writers, so it cannot happen there).
    sessions = session_factory(pg_edge_db.engine)

    def insert_first(*_: object) -> None:
        with sessions.begin() as other:
            add_camera(other, cam(url="rtsp://other/s"))

    with sessions() as s:
        event.listen(s, "before_flush", insert_first, once=True)
        with pytest.raises(CameraExists, match="already exists"):
            add_camera(s, cam())
    with sessions() as s:
        assert camera_config(get_camera(s, "front")).url == "rtsp://other/s"


def test_update_bumps_the_version_only_when_the_config_changes(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as s:
        added_at = add_camera(s, cam()).updated_at
    with sessions.begin() as s:
        row = update_camera(s, "front", {"detect_fps": 2, "enabled": False, "zones": [SHELF]})
        assert row.version == 2 and not row.enabled and row.updated_at > added_at
    with sessions.begin() as s:
        assert update_camera(s, "front", {"detect_fps": 2.0}).version == 2
        assert update_camera(s, "front", {}).version == 2
    with sessions() as s:
        row = get_camera(s, "front")
        config = camera_config(row)
        assert row.version == 2 and not row.enabled
        assert config.detect_fps == 2.0 and config.zones[0].name == "shelf"


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"detect_fps": -1}, ValidationError),
        ({"url": None}, ValidationError),
        ({"zones": [SHELF, SHELF]}, ValidationError),
        ({"name": "back"}, ValueError),
    ],
)
def test_a_bad_update_changes_nothing(
    sessions: sessionmaker[Session], changes: dict[str, object], error: type[Exception]
) -> None:
    with sessions.begin() as s:
        add_camera(s, cam())
    with pytest.raises(error), sessions.begin() as s:
        update_camera(s, "front", changes)
    with sessions() as s:
        row = get_camera(s, "front")
        assert row.version == 1 and camera_config(row) == cam()
    with pytest.raises(CameraNotFound), sessions.begin() as s:
        update_camera(s, "side", {"detect_fps": 1})


def _status(name: str) -> CameraStatus:
    return CameraStatus(name=name, state="online", updated_at=utcnow())


def test_remove_deletes_the_camera_and_its_status_but_keeps_history(
    sessions: sessionmaker[Session],
) -> None:
    now = utcnow()
    event_id = str(uuid.uuid4())
    with sessions.begin() as s:
        add_camera(s, cam("front"))
        add_camera(s, cam("back"))
        s.add_all([_status("front"), _status("back")])
        s.add(
            Event(
                id=event_id,
                type="person_detected",
                source_kind="camera",
                source_id="front",
                started_at=now,
                ended_at=now,
                person_count=1,
                best_score=0.9,
                details={"camera": "front"},
                created_at=now,
                updated_at=now,
            )
        )
        s.flush()
        s.add(
            EventMedia(
                event_id=event_id,
                kind="snapshot",
                camera="front",
                state="present",
                path="x.jpg",
                content_type="image/jpeg",
                created_at=now,
                updated_at=now,
            )
        )
        s.add(
            Recording(
                camera="front",
                path="rec/front/1.mp4",
                started_at=now,
                ended_at=now + dt.timedelta(seconds=10),
                duration_s=10.0,
                size_bytes=10,
                codec="h264",
                width=64,
                height=48,
            )
        )
    with sessions() as s:
        assert set(camera_statuses(s)) == {"front", "back"}
        assert set(camera_statuses(s, ["back"])) == {"back"}
        assert camera_status(s, "front") is not None
    with sessions.begin() as s:
        remove_camera(s, "front")
    with sessions() as s:
        assert [c.name for c in list_cameras(s)] == ["back"]
        assert camera_status(s, "front") is None and camera_status(s, "back") is not None
        assert s.get(Event, event_id) is not None
        assert s.get(EventMedia, (event_id, "snapshot")) is not None
        assert s.scalar(select(func.count()).select_from(Recording)) == 1
    with pytest.raises(CameraNotFound), sessions.begin() as s:
        remove_camera(s, "front")
