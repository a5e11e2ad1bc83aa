"""What MQTT publishing reads from the edge store (SQLite and PostgreSQL): the event feed's
cursor and look-back, today's counters and person presence."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy.orm import Session

from guardian.common.db import session_factory
from guardian.common.seal import Sealer
from guardian.edge.camera.config import CameraConfig
from guardian.edge.mqtt.feed import LOOKBACK, EventFeed, read_sources
from guardian.edge.store.cameras import add_camera
from guardian.edge.store.devices import add_device, revoke_device
from guardian.edge.store.tables import CameraStatus, Event
from tests.edge_fixtures import EdgeDb

NOW = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
SOURCES = [("camera", "front"), ("device", "door-pi")]


def add_event(
    session: Session,
    *,
    kind: str = "camera",
    source: str = "front",
    type: str = "interaction_detected",
    started: dt.datetime = NOW,
    ended: dt.datetime = NOW,
    updated: dt.datetime = NOW,
    version: int = 1,
    event_id: str | None = None,
    **details: Any,
) -> str:
    event_id = event_id or str(uuid.uuid4())
    row = session.get(Event, event_id)
    if row is None:
        row = Event(id=event_id, type=type, source_kind=kind, source_id=source,
                    person_count=1, best_score=0.5, created_at=updated)  # fmt: skip
        session.add(row)
    row.started_at, row.ended_at, row.updated_at, row.version = started, ended, updated, version
    row.details = {"label": "person", "state": "ended", **details}
    session.flush()
    return event_id


def test_the_feed_returns_each_version_once_including_late_commits(edge_db: EdgeDb) -> None:
    sessions = session_factory(edge_db.engine)
    feed = EventFeed(cursor=NOW)
    with sessions.begin() as session:
        before = add_event(session, updated=NOW - LOOKBACK * 2, ended=NOW - LOOKBACK * 2)
        first = add_event(session, updated=NOW + dt.timedelta(seconds=1))
        add_event(session, kind="camera", source="not-registered", updated=NOW)
    with sessions() as session:
        assert [e["id"] for e in feed.read(session, SOURCES)] == [first]
        assert feed.read(session, SOURCES) == []
    assert feed.cursor == NOW + dt.timedelta(seconds=1)
    with sessions.begin() as session:
        # Stamped before the cursor but committed only now (a slow writer): still found.
        late = add_event(session, kind="device", source="door-pi", updated=NOW)
        add_event(session, event_id=first, updated=NOW + dt.timedelta(seconds=2), version=2)
    with sessions() as session:
        got = [(e["id"], e["version"]) for e in feed.read(session, SOURCES)]
    assert got == [(late, 1), (first, 2)]
    assert before not in {i for i, _ in got}
    feed.forget([{"id": late, "version": 1}])
    with sessions() as session:
        assert [e["id"] for e in feed.read(session, SOURCES)] == [late]


def test_a_capture_delivered_hours_late_is_not_news(edge_db: EdgeDb) -> None:
    sessions = session_factory(edge_db.engine)
    feed = EventFeed(cursor=NOW)
    with sessions.begin() as session:
        old = NOW - dt.timedelta(hours=3)
        add_event(session, kind="device", source="door-pi", started=old, ended=old, updated=NOW)
    with sessions() as session:
        assert feed.read(session, SOURCES) == []


def test_sources_count_todays_interactions_and_see_present_people(edge_db: EdgeDb) -> None:
    sessions = session_factory(edge_db.engine)
    sealer = Sealer(b"k" * 32)
    today = NOW.replace(hour=0)
    with sessions.begin() as session:
        add_camera(session, CameraConfig(name="front", url="rtsp://a/1"))
        add_camera(session, CameraConfig(name="yard", url="rtsp://a/2", enabled=False))
        add_camera(session, CameraConfig(name="shed", url="rtsp://a/3"))
        session.add(CameraStatus(name="front", state="online", updated_at=NOW))
        add_device(session, sealer, "door-pi")
        add_device(session, sealer, "old-pi")
        revoke_device(session, "old-pi")
        for _ in range(3):
            add_event(session)
        add_event(session, type="person_detected")
        add_event(session, started=today - dt.timedelta(minutes=5), ended=today)  # yesterday
        add_event(session, kind="device", source="door-pi")
        # An active person on the front camera, an active vehicle and a stale one on the yard.
        add_event(
            session, type="person_detected", state="active", ended=NOW - dt.timedelta(seconds=5)
        )
        add_event(session, source="shed", type="vehicle_detected", state="active", label="vehicle")
        stale = NOW - dt.timedelta(minutes=5)
        add_event(session, source="yard", state="active", started=stale, ended=stale)
    with sessions() as session:
        sources = read_sources(session, now=NOW, today=today, presence=dt.timedelta(seconds=60))
    assert sources.cameras == {"front": "online", "yard": "disabled", "shed": "unknown"}
    assert sources.devices == ["door-pi"]
    assert sources.interactions == {
        ("camera", "front"): 3, ("camera", "yard"): 1, ("camera", "shed"): 0,
        ("device", "door-pi"): 1,
    }  # fmt: skip
    assert sources.present == frozenset({"front"})
    assert sorted(sources.pairs()) == sorted(sources.interactions)
