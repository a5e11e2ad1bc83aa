"""The relay store on SQLite and PostgreSQL: event cache, forward queue, expiry and listing."""

from __future__ import annotations

import copy
import datetime as dt
import json
import random
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from guardian.common import migrations
from guardian.common.db import session_factory, sqlite_url
from guardian.common.settings import settings_reference
from guardian.edge.events.camera_store import apply_action
from guardian.edge.events.interactions import PersonBox, Sighting
from guardian.edge.events.store import record_sighting
from guardian.edge.store.tables import Outbox
from guardian.edge.track.lifecycle import EventAction
from guardian.relay.config import RelaySettings
from guardian.relay.store.cache import (
    EventConflict,
    EventFilters,
    list_events,
    purge_expired,
    store_batch,
)
from guardian.relay.store.cursor import InvalidCursor, encode_cursor
from guardian.relay.store.queue import (
    DEFAULT_LEASE,
    MAX_ERROR_CHARS,
    claim_batch,
    mark_failed,
    mark_forwarded,
    queue_depth,
    retry_delay,
)
from guardian.relay.store.schema import upgrade
from guardian.relay.store.tables import Base, CachedEvent, ForwardQueue
from guardian.relay.summarize import SummaryError, summarize
from tests.edge_fixtures import EdgeDb
from tests.integration.edge.capture.seed import add_capture, add_device
from tests.relay_fixtures import RelayDb

TENANT = "0b9d3c4e-1f2a-4b5c-8d6e-7f8091a2b3c4"
SITE = "7a6b5c4d-3e2f-4a1b-9c8d-7e6f5a4b3c2d"
OTHER_SITE = "11111111-2222-4333-8444-555555555555"
OTHER_TENANT = "99999999-8888-4777-8666-555555555555"
NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)


def event(n: int, version: int = 1, *, seconds: int | None = None, **extra: Any) -> dict[str, Any]:
    """A camera event in the edge's ``event_json`` form (boxes and key included)."""
    start = NOW - dt.timedelta(hours=1) + dt.timedelta(seconds=n if seconds is None else seconds)
    data: dict[str, Any] = {
        "id": str(uuid.UUID(int=n + 1)),
        "type": "person_detected",
        "source_kind": "camera",
        "source_id": "front" if n % 2 else "back",
        "started_at": start.isoformat(),
        "ended_at": (start + dt.timedelta(seconds=5)).isoformat(),
        "person_count": 1,
        "best_score": 0.6123,
        "details": {
            "camera": "front",
            "label": "person",
            "track_id": n,
            "zones": ["shelf"],
            "zone": None,
            "dwell_s": None,
            "state": "active",
            "boxes": [[1234.56, 2345.67, 3456.78, 4567.89]],
            "key": f"front/s/t{n}/person",
        },
        "version": version,
    }
    data.update(extra)
    return data


def _store(db: RelayDb, events: list[dict[str, Any]], site: str = SITE, **kw: Any) -> list[str]:
    with db.sessions.begin() as s:
        return store_batch(s, TENANT, site, events, kw.pop("now", NOW), **kw)


def _queue(s: Session) -> list[tuple[str, int]]:
    rows = s.execute(
        select(ForwardQueue.event_id, ForwardQueue.version).order_by(ForwardQueue.id)
    ).all()
    return [(eid, v) for eid, v in rows]


def _count(s: Session, table: type[object]) -> int:
    return s.scalar(select(func.count()).select_from(table)) or 0


def test_the_migration_creates_every_relay_table(relay_db: RelayDb) -> None:
    assert {
        "edges",
        "revoked_serials",
        "cached_events",
        "forward_queue",
        "telemetry",
        "alembic_version",
    } <= migrations.current_tables(relay_db.engine)
    upgrade(relay_db.engine)  # idempotent


def test_the_migrations_match_the_table_models(relay_db: RelayDb) -> None:
    with relay_db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


# --- real edge events ---------------------------------------------------------------------


def _real_edge_events(edge: EdgeDb) -> tuple[list[dict[str, Any]], str]:
    """Outbox payloads written by the edge's own event code: a capture event and a camera one."""
    sessions = session_factory(edge.engine)
    with sessions.begin() as s:
        add_device(s, "pi-1")
        capture = add_capture(s, edge.settings, "pi-1", "coffee", seq=1, size=(32, 24))
        persons = (
            PersonBox(0.8134, (1111.5, 2222.5, 3333.5, 4444.5)),
            PersonBox(0.4567, (5.5, 6.5, 7.5, 8.5)),
        )
        record_sighting(
            s,
            Sighting(capture.capture_id, "pi-1", NOW, persons, {"model": "ssd"}),
            window=dt.timedelta(seconds=10),
        )
        t0 = NOW.timestamp()
        action = EventAction(
            kind="end",
            key="front/session-1/zone/shelf/7",
            event_type="interaction_detected",
            camera="front",
            track_id=7,
            label="person",
            ts=t0 + 9,
            start_ts=t0,
            end_ts=t0 + 9,
            box=(1212.5, 2323.5, 3434.5, 4545.5),
            best_score=0.7734,
            best_ts=t0 + 3,
            best_box=(1313.5, 2424.5, 3535.5, 4646.5),
            zone="shelf",
            dwell_s=8.04,
            person_count=1,
            peak_person_count=2,
        )
        apply_action(s, action, now=NOW, events_days=7)
    with sessions() as s:
        payloads = [row.payload for row in s.scalars(select(Outbox).order_by(Outbox.id))]
    assert len(payloads) == 2
    return payloads, capture.capture_id


def test_real_edge_events_are_cached_in_full_and_queued_as_summaries(
    sqlite_edge_db: EdgeDb, relay_db: RelayDb
) -> None:
    payloads, capture_id = _real_edge_events(sqlite_edge_db)
    queued = _store(relay_db, payloads)
    assert queued == [p["id"] for p in payloads]
    with relay_db.sessions() as s:
        cached = {c.id: c for c in s.scalars(select(CachedEvent))}
        assert {eid: c.payload for eid, c in cached.items()} == {p["id"]: p for p in payloads}
        rows = list(s.scalars(select(ForwardQueue).order_by(ForwardQueue.id)))
    summaries = [r.summary for r in rows]
    assert summaries == [summarize(p, tenant_id=TENANT, site_id=SITE) for p in payloads]
    device, camera = summaries
    assert (device["source_kind"], device["source_name"], device["label"]) == (
        "device",
        "pi-1",
        "person",
    )
    assert (device["person_count"], device["confidence"], device["state"]) == (2, "high", "ended")
    assert (camera["zone"], camera["dwell_s"], camera["person_count"]) == ("shelf", 8.0, 2)
    assert (camera["confidence"], camera["state"]) == ("high", "ended")
    rendered = json.dumps(summaries)
    for secret in (capture_id, "1111.5", "0.8134", "0.7734", "session-1", "ssd"):
        assert secret in json.dumps(payloads)
        assert secret not in rendered


# --- idempotency and versions --------------------------------------------------------------


def test_a_batch_delivered_twice_queues_nothing_new(relay_db: RelayDb) -> None:
    batch = [event(1), event(2)]
    assert _store(relay_db, batch) == [event(1)["id"], event(2)["id"]]
    assert _store(relay_db, copy.deepcopy(batch)) == []
    with relay_db.sessions() as s:
        assert _queue(s) == [(event(1)["id"], 1), (event(2)["id"], 1)]
        assert _count(s, CachedEvent) == 2


def test_a_redelivery_after_forwarding_queues_nothing(relay_db: RelayDb) -> None:
    _store(relay_db, [event(1)])
    with relay_db.sessions.begin() as s:
        mark_forwarded(s, claim_batch(s, 10, NOW))
    assert _store(relay_db, [event(1)]) == []
    with relay_db.sessions() as s:
        assert _queue(s) == []


def test_a_newer_version_replaces_the_cached_one_and_its_queued_summary(relay_db: RelayDb) -> None:
    _store(relay_db, [event(1)])
    newer = event(1, 2, details={**event(1)["details"], "state": "ended"})
    assert _store(relay_db, [newer]) == [newer["id"]]
    with relay_db.sessions() as s:
        cached = s.get(CachedEvent, newer["id"])
        assert cached is not None and (cached.version, cached.payload) == (2, newer)
        (row,) = s.scalars(select(ForwardQueue)).all()
        assert (row.version, row.summary["state"]) == (2, "ended")


def test_an_older_version_arriving_late_changes_nothing(relay_db: RelayDb) -> None:
    _store(relay_db, [event(1, 3)])
    assert _store(relay_db, [event(1, 2)]) == []
    with relay_db.sessions() as s:
        cached = s.get(CachedEvent, event(1)["id"])
        assert cached is not None and cached.version == 3
        assert _queue(s) == [(event(1)["id"], 3)]


def test_a_newer_version_after_forwarding_is_queued_again(relay_db: RelayDb) -> None:
    _store(relay_db, [event(1)])
    with relay_db.sessions.begin() as s:
        mark_forwarded(s, claim_batch(s, 10, NOW))
    assert _store(relay_db, [event(1, 2)]) == [event(1)["id"]]
    with relay_db.sessions() as s:
        assert _queue(s) == [(event(1)["id"], 2)]


def test_several_versions_in_one_batch_queue_only_the_newest(relay_db: RelayDb) -> None:
    assert _store(relay_db, [event(1, 1), event(2), event(1, 3), event(1, 2)]) == [
        event(1)["id"],
        event(2)["id"],
    ]
    with relay_db.sessions() as s:
        assert sorted(_queue(s)) == sorted([(event(1)["id"], 3), (event(2)["id"], 1)])


def test_a_malformed_event_fails_the_whole_batch_and_writes_nothing(relay_db: RelayDb) -> None:
    bad = event(2)
    del bad["best_score"]
    with pytest.raises(SummaryError, match=f"event {bad['id']}: best_score"):
        _store(relay_db, [event(1), bad])
    with relay_db.sessions() as s:
        assert (_count(s, CachedEvent), _count(s, ForwardQueue)) == (0, 0)


def test_an_event_id_of_another_site_is_refused_and_nothing_written(relay_db: RelayDb) -> None:
    _store(relay_db, [event(1)], site=OTHER_SITE)
    with pytest.raises(EventConflict) as caught:
        _store(relay_db, [event(2), event(1, 5)])
    assert caught.value.event_id == event(1)["id"]
    with relay_db.sessions() as s:
        cached = s.get(CachedEvent, event(1)["id"])
        assert cached is not None and (cached.site_id, cached.version) == (OTHER_SITE, 1)
        assert s.get(CachedEvent, event(2)["id"]) is None
        assert _queue(s) == [(event(1)["id"], 1)]


def test_an_empty_batch_is_a_no_op(relay_db: RelayDb) -> None:
    assert _store(relay_db, []) == []


def test_concurrent_deliveries_of_one_batch_queue_each_event_once(relay_db: RelayDb) -> None:
    batch = [event(n, 2) for n in range(40)]
    results: list[list[str]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def deliver() -> None:
        try:
            barrier.wait()
            results.append(_store(relay_db, copy.deepcopy(batch)))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert sorted(len(r) for r in results) == [0, 0, 0, 40]
    with relay_db.sessions() as s:
        assert sorted(_queue(s)) == sorted((e["id"], 2) for e in batch)


# --- expiry ---------------------------------------------------------------------------------


def test_cached_events_expire_after_their_time_to_live(relay_db: RelayDb) -> None:
    ttl = dt.timedelta(days=2)
    _store(relay_db, [event(1)], ttl=ttl)
    _store(relay_db, [event(2)], ttl=ttl, now=NOW + dt.timedelta(days=1))
    with relay_db.sessions.begin() as s:
        assert purge_expired(s, NOW + ttl - dt.timedelta(seconds=1)) == 0
        assert purge_expired(s, NOW + ttl) == 1
    with relay_db.sessions() as s:
        assert list(s.scalars(select(CachedEvent.id))) == [event(2)["id"]]
        assert len(_queue(s)) == 2  # forwarding does not depend on the cache


def test_a_new_version_restarts_the_time_to_live(relay_db: RelayDb) -> None:
    ttl = dt.timedelta(days=1)
    _store(relay_db, [event(1)], ttl=ttl)
    later = NOW + dt.timedelta(hours=12)
    _store(relay_db, [event(1, 2)], ttl=ttl, now=later)
    with relay_db.sessions.begin() as s:
        assert purge_expired(s, NOW + ttl) == 0
        cached = s.get(CachedEvent, event(1)["id"])
        assert cached is not None and cached.expires_at == later + ttl


# --- listing --------------------------------------------------------------------------------


def test_list_events_pages_newest_first_without_skips_or_repeats(relay_db: RelayDb) -> None:
    # Pairs share a start time, so paging must break ties by id.
    _store(relay_db, [event(n, seconds=n // 2) for n in range(11)])
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    with relay_db.sessions() as s:
        while True:
            page = list_events(s, TENANT, EventFilters(limit=3), cursor)
            seen += [item.id for item in page.items]
            pages += 1
            cursor = page.next_cursor
            if cursor is None:
                break
    expected = [
        e["id"]
        for e in sorted(
            (event(n, seconds=n // 2) for n in range(11)),
            key=lambda e: (e["started_at"], e["id"]),
            reverse=True,
        )
    ]
    assert (seen, pages) == (expected, 4)


def test_list_events_returns_the_full_detail_and_filters(relay_db: RelayDb) -> None:
    _store(relay_db, [event(1), event(2), event(3, type="car_detected")])
    _store(relay_db, [event(4)], site=OTHER_SITE)
    with relay_db.sessions.begin() as s:
        store_batch(s, OTHER_TENANT, SITE, [event(5)], NOW)
    with relay_db.sessions() as s:

        def ids(**filters: Any) -> set[str]:
            page = list_events(s, TENANT, EventFilters(**filters))
            return {item.id for item in page.items}

        assert ids() == {event(n)["id"] for n in (1, 2, 3, 4)}
        assert ids(site_id=OTHER_SITE) == {event(4)["id"]}
        assert ids(type="car_detected") == {event(3)["id"]}
        assert ids(source_name="back") == {event(2)["id"], event(4)["id"]}
        assert ids(source_kind="device") == set()
        start = dt.datetime.fromisoformat(event(2)["started_at"])
        assert ids(since=start, until=start + dt.timedelta(seconds=2)) == {
            event(2)["id"],
            event(3)["id"],
        }
        (item,) = list_events(s, TENANT, EventFilters(type="car_detected")).items
        assert item.payload == event(3, type="car_detected")
        assert (item.site_id, item.version, item.received_at) == (SITE, 1, NOW)


def test_list_events_can_hide_expired_rows_not_yet_purged(relay_db: RelayDb) -> None:
    _store(relay_db, [event(1)], ttl=dt.timedelta(hours=1))
    with relay_db.sessions() as s:
        assert list_events(s, TENANT, now=NOW).items
        assert not list_events(s, TENANT, now=NOW + dt.timedelta(hours=1)).items


@pytest.mark.parametrize("cursor", ["nope", "x" * 300, encode_cursor(NOW, "")])
def test_a_foreign_cursor_is_refused(sqlite_relay_db: RelayDb, cursor: str) -> None:
    with sqlite_relay_db.sessions() as s, pytest.raises(InvalidCursor):
        list_events(s, TENANT, cursor=cursor)


# --- forward queue --------------------------------------------------------------------------


def test_claims_lease_rows_oldest_first_until_the_lease_ends(relay_db: RelayDb) -> None:
    _store(relay_db, [event(n) for n in range(5)])
    with relay_db.sessions.begin() as s:
        first = claim_batch(s, 3, NOW)
    assert [q.event_id for q in first] == [event(n)["id"] for n in range(3)]
    assert first[0].summary == summarize(event(0), tenant_id=TENANT, site_id=SITE)
    assert (first[0].tenant_id, first[0].version, first[0].attempts) == (TENANT, 1, 0)
    with relay_db.sessions.begin() as s:
        second = claim_batch(s, 10, NOW)
    assert [q.event_id for q in second] == [event(n)["id"] for n in (3, 4)]
    with relay_db.sessions.begin() as s:
        assert claim_batch(s, 10, NOW + DEFAULT_LEASE - dt.timedelta(seconds=1)) == []
        again = claim_batch(s, 10, NOW + DEFAULT_LEASE)
    assert len(again) == 5


def test_forwarded_rows_leave_the_queue(relay_db: RelayDb) -> None:
    _store(relay_db, [event(n) for n in range(3)])
    with relay_db.sessions.begin() as s:
        claimed = claim_batch(s, 2, NOW)
        assert mark_forwarded(s, claimed) == 2
        assert mark_forwarded(s, claimed) == 0
        assert mark_forwarded(s, []) == 0
    with relay_db.sessions() as s:
        assert _queue(s) == [(event(2)["id"], 1)]
        depth = queue_depth(s)
    assert (depth.count, depth.oldest_created_at) == (1, NOW)


def test_settling_a_push_never_touches_a_row_that_took_a_superseded_rows_id(
    relay_db: RelayDb,
) -> None:
    """A push is in flight with version 1 of events 0-3; version 2 of them arrives with
    events 4-7, which deletes the in-flight rows as superseded. On SQLite the new rows
    then take the freed ids. Settling the old push (accepted or failed) must leave the
    new rows queued: by id alone it deleted four events that were never sent."""
    _store(relay_db, [event(n) for n in range(4)])
    with relay_db.sessions.begin() as s:
        in_flight = claim_batch(s, 10, NOW)
    _store(relay_db, [event(n) for n in range(4, 8)] + [event(n, 2) for n in range(4)])
    with relay_db.sessions() as s:
        queued = sorted(_queue(s))
        reused = {r.id for r in s.scalars(select(ForwardQueue))} & {q.id for q in in_flight}
    assert queued == sorted(
        [(event(n)["id"], 1) for n in range(4, 8)] + [(event(n)["id"], 2) for n in range(4)]
    )
    assert reused or relay_db.dialect == "postgresql"  # SQLite reuses them: the case at hand
    with relay_db.sessions.begin() as s:
        assert mark_failed(s, in_flight, "timeout", NOW) == 0
        assert mark_forwarded(s, in_flight) == 0
    with relay_db.sessions() as s:
        assert sorted(_queue(s)) == queued
        assert all(r.attempts == 0 for r in s.scalars(select(ForwardQueue)))


def test_an_empty_queue_has_no_depth(relay_db: RelayDb) -> None:
    with relay_db.sessions() as s:
        depth = queue_depth(s)
    assert (depth.count, depth.oldest_created_at) == (0, None)


def test_failed_rows_back_off_with_capped_jitter(relay_db: RelayDb) -> None:
    _store(relay_db, [event(1), event(2)])
    rng = random.Random(7)
    delays: list[float] = []
    with relay_db.sessions.begin() as s:
        claimed = claim_batch(s, 10, NOW)
    at = NOW
    for _ in range(12):
        with relay_db.sessions.begin() as s:
            assert mark_failed(s, claimed, "control plane said 503" + "!" * 2000, at, rng=rng) == 2
        with relay_db.sessions() as s:
            rows = list(s.scalars(select(ForwardQueue).order_by(ForwardQueue.id)))
        assert rows[0].next_attempt_at == rows[1].next_attempt_at  # retried together
        delays.append((rows[0].next_attempt_at - at).total_seconds())
        at = rows[0].next_attempt_at
    assert [r.attempts for r in rows] == [12, 12]
    assert rows[0].last_error is not None and len(rows[0].last_error) == MAX_ERROR_CHARS
    assert 0.25 <= delays[0] < 0.5
    assert all(15.0 <= d < 30.0 for d in delays[8:])  # capped at 30 s, never near zero
    with relay_db.sessions.begin() as s:
        assert claim_batch(s, 10, at - dt.timedelta(milliseconds=1)) == []
        assert len(claim_batch(s, 10, at)) == 2


def test_concurrent_claims_never_share_a_row(pg_relay_db: RelayDb) -> None:
    _store(pg_relay_db, [event(n) for n in range(30)])
    first_holds = threading.Event()
    claims: dict[str, list[int]] = {}

    def hold_a_claim() -> None:
        with pg_relay_db.sessions.begin() as s:
            claims["a"] = [q.id for q in claim_batch(s, 10, NOW)]
            first_holds.set()
            second_done.wait(10)

    second_done = threading.Event()
    holder = threading.Thread(target=hold_a_claim)
    holder.start()
    assert first_holds.wait(10)
    with pg_relay_db.sessions.begin() as s:
        claims["b"] = [q.id for q in claim_batch(s, 10, NOW)]
    second_done.set()
    holder.join(10)
    assert len(claims["a"]) == len(claims["b"]) == 10
    assert not set(claims["a"]) & set(claims["b"])


@pytest.mark.parametrize(
    ("attempts", "u", "expected"),
    [(1, 0.0, 0.25), (1, 0.5, 0.375), (2, 0.0, 0.5), (4, 0.999, 3.998), (7, 0.0, 15.0)],
)
def test_retry_delays_double_from_half_a_second(attempts: int, u: float, expected: float) -> None:
    assert retry_delay(attempts, 0.5, 30.0, u) == pytest.approx(expected)


def test_retry_delays_stop_growing_at_the_cap() -> None:
    assert retry_delay(10_000, 0.5, 30.0, 0.0) == 15.0
    assert retry_delay(10_000, 0.5, 30.0, 0.9999) < 30.0


@pytest.mark.parametrize(
    ("attempts", "base", "cap", "u"),
    [(0, 0.5, 30.0, 0.5), (1, 0.0, 30.0, 0.5), (1, 0.5, -1.0, 0.5), (1, 0.5, 30.0, 1.0)],
)
def test_retry_delay_refuses_nonsense(attempts: int, base: float, cap: float, u: float) -> None:
    with pytest.raises(ValueError):
        retry_delay(attempts, base, cap, u)


# --- settings -------------------------------------------------------------------------------


def test_relay_settings_default_to_sqlite_in_the_data_dir(sqlite_relay_db: RelayDb) -> None:
    settings = sqlite_relay_db.settings
    assert sqlite_relay_db.url == sqlite_url(settings.data_dir / "relay.db")
    assert (settings.http_port, settings.link_port, settings.cache_days) == (8730, 8731, 7.0)
    assert RelaySettings().data_dir == Path("guardian-data/relay")


def test_the_direct_link_port_defaults_next_to_the_link_port() -> None:
    assert RelaySettings().resolved_link_direct_port() == 8732
    assert RelaySettings(link_port=9000).resolved_link_direct_port() == 9001
    assert RelaySettings(link_port=0).resolved_link_direct_port() == 0  # any free port
    assert RelaySettings(link_direct_port=7000).resolved_link_direct_port() == 7000
    for clash in ({"link_port": 9000, "link_direct_port": 9000}, {"link_port": 65535}):
        with pytest.raises(ValueError):
            RelaySettings.model_validate(clash)


def test_relay_settings_read_the_relay_prefix_and_describe_every_field(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GUARDIAN_RELAY_CONTROL_URL", "https://control.example.com/")
    monkeypatch.setenv("GUARDIAN_RELAY_CONTROL_TOKEN", "relay-secret-token")
    monkeypatch.setenv("GUARDIAN_RELAY_FORWARD_BATCH", "50")
    settings = RelaySettings()
    assert (settings.control_url, settings.forward_batch) == ("https://control.example.com", 50)
    assert "relay-secret-token" not in repr(settings)
    rows = settings_reference(RelaySettings, "GUARDIAN_RELAY_")
    assert all(row["description"] for row in rows)
    assert {row["name"] for row in rows} >= {
        "data_dir",
        "database_url",
        "host",
        "http_port",
        "link_port",
        "control_url",
        "control_token",
        "cache_days",
        "forward_batch",
        "forward_retry_max_seconds",
        "heartbeat_seconds",
        "dead_link_seconds",
    }


@pytest.mark.parametrize(
    "values",
    [
        {"control_url": "control.example.com"},
        {"heartbeat_seconds": 15, "dead_link_seconds": 15},
        {"forward_batch": 0},
        {"unknown": 1},
    ],
)
def test_relay_settings_refuse_nonsense(values: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        RelaySettings(**values)


def test_summaries_made_by_the_caller_are_used_and_must_match_the_events(
    relay_db: RelayDb,
) -> None:
    batch = [event(n) for n in range(1, 151)]  # larger than one insertmanyvalues page
    summaries = [summarize(e, tenant_id=TENANT, site_id=SITE) for e in batch]
    with relay_db.sessions.begin() as s:
        queued = store_batch(s, TENANT, SITE, batch, NOW, summaries=summaries)
    assert queued == [e["id"] for e in batch]
    with relay_db.sessions() as s:
        assert _count(s, CachedEvent) == 150
        stored = s.scalars(select(ForwardQueue.summary).order_by(ForwardQueue.id))
        assert list(stored) == summaries
    with relay_db.sessions.begin() as s, pytest.raises(ValueError, match="one summary per"):
        store_batch(s, TENANT, SITE, [event(200)], NOW, summaries=[])
