"""The event store: event, link and outbox row in the caller's transaction, exactly once."""

from __future__ import annotations

import datetime as dt
import threading
import time

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from guardian.common.db import session_factory
from guardian.edge.events.interactions import PersonBox, Sighting
from guardian.edge.events.store import EventChange, event_json, record_sighting
from guardian.edge.store.tables import Event, EventCapture, Outbox
from tests.edge_fixtures import EdgeDb
from tests.integration.edge.capture.seed import T0, add_capture, add_device

WINDOW = dt.timedelta(seconds=10)
MODEL = {"model": "ssd", "sha256": "ab", "runtime": "openvino", "device": "CPU"}


def _captures(db: EdgeDb, n: int, device: str = "pi-1") -> list[str]:
    sessions = session_factory(db.engine)
    with sessions.begin() as s:
        add_device(s, device)
        return [
            add_capture(s, db.settings, device, "coffee", seq=i, size=(32, 24)).capture_id
            for i in range(n)
        ]


def _sighting(cid: str, seconds: float, *scores: float) -> Sighting:
    persons = tuple(PersonBox(sc, (0.0, 0.0, 5.0, 9.0)) for sc in scores or (0.8,))
    return Sighting(cid, "pi-1", T0 + dt.timedelta(seconds=seconds), persons, MODEL)


def _record(sessions: sessionmaker[Session], sighting: Sighting) -> EventChange | None:
    with sessions.begin() as s:
        return record_sighting(s, sighting, window=WINDOW)


def _count(s: Session, table: type[object]) -> int:
    return s.scalar(select(func.count()).select_from(table)) or 0


def test_a_sighting_creates_then_extends_an_event_with_one_outbox_row_per_version(
    edge_db: EdgeDb,
) -> None:
    c1, c2 = _captures(edge_db, 2)
    sessions = session_factory(edge_db.engine)
    first = _record(sessions, _sighting(c1, 0, 0.7))
    assert first is not None and first.created and first.version == 1
    second = _record(sessions, _sighting(c2, 4, 0.9, 0.6))
    assert second == EventChange(first.event_id, 2, created=False)
    with sessions() as s:
        event = s.get(Event, first.event_id)
        assert event is not None
        assert (event.person_count, event.best_score, event.version) == (2, 0.9, 2)
        assert event.details["capture_ids"] == [c1, c2]
        assert set(s.scalars(select(EventCapture.capture_id))) == {c1, c2}
        rows = list(s.scalars(select(Outbox).order_by(Outbox.id)))
        assert [(r.topic, r.key, r.payload["version"]) for r in rows] == [
            ("event.upsert", event.id, 1),
            ("event.upsert", event.id, 2),
        ]
        assert rows[-1].payload == event_json(event)


def test_recording_a_linked_capture_again_changes_nothing(edge_db: EdgeDb) -> None:
    (c1,) = _captures(edge_db, 1)
    sessions = session_factory(edge_db.engine)
    assert _record(sessions, _sighting(c1, 0, 0.7)) is not None
    assert _record(sessions, _sighting(c1, 0, 0.99)) is None
    with sessions() as s:
        (event,) = s.scalars(select(Event)).all()
        assert (event.version, event.best_score) == (1, 0.7)
        assert _count(s, Outbox) == 1 and _count(s, EventCapture) == 1


def test_a_rolled_back_transaction_leaves_no_event_and_no_outbox_row(edge_db: EdgeDb) -> None:
    (c1,) = _captures(edge_db, 1)
    sessions = session_factory(edge_db.engine)
    with sessions() as s:
        s.begin()
        assert record_sighting(s, _sighting(c1, 0), window=WINDOW) is not None
        s.rollback()
    with sessions() as s:
        assert (_count(s, Event), _count(s, EventCapture), _count(s, Outbox)) == (0, 0, 0)


def test_concurrent_sightings_of_one_device_make_one_event(edge_db: EdgeDb) -> None:
    c1, c2 = _captures(edge_db, 2)
    sessions = session_factory(edge_db.engine)
    first_written = threading.Event()
    errors: list[BaseException] = []

    def slow_first() -> None:
        try:
            with sessions.begin() as s:
                record_sighting(s, _sighting(c1, 0), window=WINDOW)
                first_written.set()
                time.sleep(0.5)  # the second transaction runs now and must wait for us
        except BaseException as exc:
            errors.append(exc)
            first_written.set()

    thread = threading.Thread(target=slow_first)
    thread.start()
    assert first_written.wait(30)
    _record(sessions, _sighting(c2, 1))
    thread.join(30)
    assert not errors
    with sessions() as s:
        (event,) = s.scalars(select(Event)).all()
        assert event.details["capture_ids"] == [c1, c2] and event.version == 2
