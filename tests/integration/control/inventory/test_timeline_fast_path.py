"""The timeline's fast path answers exactly what the model-based path answered.

``GET /api/v1/events`` reads plain rows (asyncio, one pipelined round trip on PostgreSQL) and lets
orjson write them; these tests hold its bytes to ``EventPage`` built from ORM events
with ``event_out`` (how the route answered before), and check that row-level security
still confines the asyncio read. The fast path sits in front of the whole ASGI stack, so
they also check that it does what the stack's layers do: rate limits (each request counted
once), headers, request id, metrics and the access log.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import logging
from contextlib import contextmanager
from typing import Any

import pytest
from pydantic import TypeAdapter
from sqlalchemy import create_engine, func, make_url, select, text

from guardian.common.db import normalise_url
from guardian.control.api.events import FAST_PATH, TimelineFastPath
from guardian.control.api.middleware import RATE_LIMITS, RateLimits, TokenBuckets
from guardian.control.context import ControlContext
from guardian.control.db import Database
from guardian.control.inventory.cursor import encode_cursor
from guardian.control.inventory.queries import (
    EventFilter,
    event_out,
    page_json,
    page_rows,
    rows_page,
    timeline_statement,
)
from guardian.control.inventory.schemas import EventPage, EventPageRows
from guardian.control.store.tables import Camera, Event
from tests.integration.control.inventory.conftest import T0, Inventory, open_inventory, rfc3339

PAGE_JSON = TypeAdapter(EventPage)


def _load(inv: Inventory) -> list[dict[str, Any]]:
    a = inv.a
    events = [
        a.summary(source_name="front"),
        a.summary(source_name="café door", label="personne", dwell_s=None, zone=None),
        a.summary(source_kind="device", source_name="pi", type="vehicle_detected", dwell_s=7),
        a.summary(source_name="front", dwell_s=0.1 + 0.2, person_count=3),
        a.summary(source_name="back", state="active", confidence="low"),
        a.summary(source_name="front", type="person_detected"),
    ]
    inv.ingest(*events)
    inv.ingest(inv.b.summary(source_name="front"), tenant=inv.b)
    note = {"added_items": [{"item": "milk", "quantity": 1}], "comment": "restocked"}
    url = f"/api/v1/events/{events[3]['id']}/notes"
    assert inv.client.post(url, json=note, headers=a.viewer.headers).status_code == 201
    return events


def _expected(ctx: ControlContext, tenant_id: str, got: dict[str, Any], limit: int) -> bytes:
    """The page the route answers, as the model-based path built it from ORM events."""
    ids = [item["id"] for item in got["items"]]
    with ctx.db.system() as session:
        items = []
        for event_id in ids:
            event = session.get(Event, event_id)
            assert event is not None and event.tenant_id == tenant_id
            camera = session.get(Camera, event.camera_id) if event.camera_id else None
            name = (camera.display_name or camera.edge_name) if camera else None
            items.append(event_out(event, name))
    more = got["next_cursor"] is not None
    cursor = encode_cursor(items[-1].started_at, items[-1].id) if more else None
    return PAGE_JSON.dump_json(EventPage(items=items, next_cursor=cursor))


def _queries(inv: Inventory, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    front = inv.get(inv.a.viewer, "/api/v1/events", q="front").json()["items"][0]["camera_id"]
    plus_two = dt.timezone(dt.timedelta(hours=2))
    since = dt.datetime.fromisoformat(events[1]["started_at"]).astimezone(plus_two)
    return [
        {},
        {"limit": 2},
        {"camera": front},
        {"site": inv.a.site, "type": "interaction_detected"},
        {"since": since.isoformat(), "until": rfc3339(T0 + dt.timedelta(days=1))},
        {"has_notes": "true"},
        {"has_notes": "false", "limit": 3},
        {"q": "front"},
    ]


def test_pages_are_byte_for_byte_the_model_based_answer(inv: Inventory) -> None:
    events = _load(inv)
    viewer = inv.a.viewer
    for params in _queries(inv, events):
        limit = int(params.get("limit", 50))
        pages = 0
        while True:
            got = inv.get(viewer, "/api/v1/events", **params)
            assert got.status_code == 200, (params, got.text)
            assert got.headers["content-type"] == "application/json"
            body = got.json()
            assert got.content == _expected(inv.ctx, inv.a.id, body, limit), params
            pages += 1
            if body["next_cursor"] is None:
                break
            params = {**params, "cursor": body["next_cursor"]}
        assert pages >= 1
    # The values themselves, once: UTC "Z" times, floats as floats, nulls as nulls.
    items = {e["id"]: e for e in inv.get(viewer, "/api/v1/events").json()["items"]}
    odd = items[events[1]["id"]]
    assert odd["dwell_s"] is None and odd["zone"] is None and odd["camera"] == "café door"
    assert items[events[2]["id"]]["dwell_s"] == 7.0 and items[events[2]["id"]]["camera"] is None
    assert items[events[3]["id"]]["has_notes"] is True
    assert all(e["started_at"].endswith("Z") for e in items.values())


def _async_pages(
    db: Database, tenant: str, cases: list[tuple[EventFilter, int, Any]]
) -> list[EventPageRows]:
    """Each case's page read the asyncio way (``timeline_statement`` on ``db.reads``)."""
    reads = db.reads
    assert reads is not None

    async def run() -> list[EventPageRows]:
        try:
            pages = []
            for f, limit, after in cases:
                sql, params = timeline_statement(
                    db.engine.dialect, tenant, f, limit=limit, after=after
                )
                pages.append(rows_page(await reads.rows(tenant, sql, params), limit))
            return pages
        finally:
            await reads.aclose()

    return asyncio.run(run())


def test_the_async_read_and_the_session_read_agree_on_every_filter_shape(
    pg_inv: Inventory,
) -> None:
    events = _load(pg_inv)
    db, tenant = pg_inv.ctx.db, pg_inv.a.id
    with db.system() as session:
        camera = session.scalar(select(Camera.id).where(Camera.tenant_id == tenant).limit(1))
    first = dt.datetime.fromisoformat(events[1]["started_at"])
    last = dt.datetime.fromisoformat(events[-1]["started_at"])
    after = (last, events[-1]["id"])
    choices: list[tuple[Any, ...]] = [
        (None, camera),
        (None, pg_inv.a.site),
        (None, "interaction_detected"),
        (None, first),
        (None, last),
        (None, True, False),
        (None, after),
        (1, 50),
    ]
    cases = []
    for cam, site, kind, since, until, notes, position, limit in itertools.product(*choices):
        cases.append((EventFilter(cam, site, kind, since, until, notes), limit, position))
    assert len(cases) == 2**7 * 3
    fast = _async_pages(db, tenant, cases)
    for (f, limit, position), page in zip(cases, fast, strict=True):
        with db.tenant_connection(tenant) as conn:
            slow = page_rows(conn, tenant, f, limit=limit, after=position)
        assert page == slow, f
        assert page_json(page) == page_json(slow)
    assert any(page["next_cursor"] for page in fast) and any(not p["items"] for p in fast)


def test_times_come_back_in_utc_whatever_the_session_time_zone(pg_inv: Inventory) -> None:
    _load(pg_inv)
    url = make_url(normalise_url(pg_inv.ctx.settings.resolved_database_url()))
    india = create_engine(url.update_query_dict({"options": "-c TimeZone=Asia/Kolkata"}))
    try:
        with india.connect() as conn:
            assert conn.scalar(text("SHOW TimeZone")) == "Asia/Kolkata"
        db = Database(india, pg_inv.ctx.db.app_role)
        f = EventFilter(type="interaction_detected")
        (page,) = _async_pages(db, pg_inv.a.id, [(f, 3, None)])
        with pg_inv.ctx.db.tenant_connection(pg_inv.a.id) as conn:
            reference = page_rows(conn, pg_inv.a.id, f, limit=3)
        assert page == reference and page["items"]
        assert all(item["started_at"].tzinfo is dt.UTC for item in page["items"])
        assert page_json(page) == page_json(reference)
        assert page["next_cursor"] is not None
        assert page["next_cursor"] == reference["next_cursor"]
    finally:
        india.dispose()


def test_row_level_security_confines_the_async_read(pg_inv: Inventory) -> None:
    _load(pg_inv)
    db, a, b = pg_inv.ctx.db, pg_inv.a.id, pg_inv.b.id
    reads = db.reads
    assert reads is not None
    own, _ = timeline_statement(db.engine.dialect, b, EventFilter(), limit=50)
    b_params = timeline_statement(db.engine.dialect, b, EventFilter(), limit=50)[1]
    everyone = "SELECT DISTINCT tenant_id FROM events"

    who = "SELECT current_user::text, current_setting('guardian.tenant_id', true)"

    async def run() -> list[list[tuple[Any, ...]]]:
        try:
            got = [
                await reads.rows(b, own, b_params),  # B's page, as B
                await reads.rows(a, own, b_params),  # B's page, scoped to A: RLS hides it
                await reads.rows(a, everyone, {}),  # no tenant filter at all
                await reads.rows(b, everyone, {}),
                await reads.rows(a, who, {}),
            ]
            async with reads._connection() as conn:  # the kept connection, afterwards
                got.append(await (await conn.execute(who)).fetchall())
            return got
        finally:
            await reads.aclose()

    b_page, b_page_as_a, seen_by_a, seen_by_b, inside, after = asyncio.run(run())
    assert b_page and b_page_as_a == []
    assert seen_by_a == [(a,)] and seen_by_b == [(b,)]
    assert inside == [(db.app_role, a)]
    assert after[0][0] != db.app_role and not after[0][1]  # both ended with the read
    with db.system() as session:
        left_open = session.scalar(
            select(func.count())
            .select_from(text("pg_stat_activity"))
            .where(text("datname = current_database() AND state LIKE 'idle in transaction%'"))
        )
    assert left_open == 0  # every read ended its transaction


def test_a_dead_connection_is_replaced(pg_inv: Inventory) -> None:
    db = pg_inv.ctx.db
    reads = db.reads
    assert reads is not None

    async def run() -> tuple[Any, Any]:
        try:
            first = await reads.rows(pg_inv.a.id, "SELECT pg_backend_pid()", {})
            with db.system() as session:  # the server ends that connection
                session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first[0][0]})
            second = await reads.rows(pg_inv.a.id, "SELECT pg_backend_pid()", {})
            return first, second
        finally:
            await reads.aclose()

    first, second = asyncio.run(run())
    assert first != second


def test_sqlite_has_no_async_reads(sqlite_control_ctx: ControlContext) -> None:
    assert sqlite_control_ctx.db.reads is None


def test_the_fast_path_answers_as_the_route_does_and_leaves_the_rest_to_it(
    pg_inv: Inventory,
) -> None:
    _load(pg_inv)
    client, viewer = pg_inv.client, pg_inv.a.viewer
    headers = {**viewer.headers, "X-Request-Id": "fixed-id"}
    fast = pg_inv.ctx.services.get(FAST_PATH)
    params = {"type": "interaction_detected", "limit": "2"}
    first = client.get("/api/v1/events", params=params, headers=headers)
    assert isinstance(fast, TimelineFastPath)
    served = fast.served
    second = client.get("/api/v1/events", params=params, headers=headers)
    assert fast.served == served + 1  # the token is now known: served without the router
    assert (second.status_code, second.content) == (first.status_code, first.content)
    assert second.headers == first.headers  # security headers, request id, cache-control
    page = client.get(
        "/api/v1/events", params={"cursor": first.json()["next_cursor"]}, headers=headers
    )
    assert page.status_code == 200 and fast.served == served + 2
    # Left to the route, which answers as always (and nothing is served here).
    routed = fast.served
    for query, status in [
        ({"limit": "0"}, 422),
        ({"limit": "many"}, 422),
        ({"since": "2026-03-01T10:00:00"}, 422),  # no offset
        ({"camera": "c" * 37}, 422),
        ({"has_notes": "perhaps"}, 422),
        ({"cursor": "not-a-cursor"}, 400),
        ({"q": "front"}, 200),
        ({"camera": ""}, 200),
    ]:
        got = client.get("/api/v1/events", params=query, headers=headers)
        assert got.status_code == status, (query, got.text)
    repeated = client.get("/api/v1/events?type=a&type=interaction_detected", headers=headers)
    assert repeated.status_code == 200 and repeated.json()["items"]
    assert client.get("/api/v1/events").status_code == 401
    assert fast.served == routed
    metrics = client.get("/metrics").text
    assert 'route="/api/v1/events",status="200"' in metrics


def _fast_path(inv: Inventory) -> TimelineFastPath:
    fast = inv.ctx.services.get(FAST_PATH)
    assert isinstance(fast, TimelineFastPath)
    return fast


def test_each_request_counts_once_against_the_rate_limits(pg_inv: Inventory) -> None:
    _load(pg_inv)  # the viewer's token is verified and cached by now
    now = [1000.0]
    limits = pg_inv.ctx.services[RATE_LIMITS]
    assert isinstance(limits, RateLimits)
    limits.api = TokenBuckets(rate=0.5, burst=4, clock=lambda: now[0])  # the stack's too
    fast, viewer = _fast_path(pg_inv), pg_inv.a.viewer
    served = fast.served
    statuses = [pg_inv.get(viewer, "/api/v1/events").status_code for _ in range(4)]
    assert statuses == [200] * 4 and fast.served == served + 4
    refused = pg_inv.get(viewer, "/api/v1/events")  # the stack answers, on the same decision
    assert refused.status_code == 429 and refused.headers["retry-after"] == "2"
    assert refused.json()["error"]["code"] == "rate_limited"
    assert refused.headers["x-frame-options"] == "DENY" and refused.headers["x-request-id"]
    assert fast.served == served + 4
    now[0] += 2  # one token back: one more request, then refused again
    assert pg_inv.get(viewer, "/api/v1/events").status_code == 200
    assert pg_inv.get(viewer, "/api/v1/events").status_code == 429


def test_a_failed_read_is_left_to_the_route_and_counted_once(
    pg_inv: Inventory, monkeypatch: pytest.MonkeyPatch
) -> None:
    _load(pg_inv)
    reads = pg_inv.ctx.db.reads
    assert reads is not None
    fast, viewer = _fast_path(pg_inv), pg_inv.a.viewer
    expected = pg_inv.get(viewer, "/api/v1/events", limit=3).content
    now = [1000.0]
    limits = pg_inv.ctx.services[RATE_LIMITS]
    limits.api = TokenBuckets(rate=0.5, burst=2, clock=lambda: now[0])
    real_rows, failures = reads.rows, [RuntimeError("the read failed")]

    async def failing_once(*args: Any) -> list[tuple[Any, ...]]:
        if failures:
            raise failures.pop()
        return await real_rows(*args)

    monkeypatch.setattr(reads, "rows", failing_once)
    served = fast.served
    got = pg_inv.get(viewer, "/api/v1/events", limit=3)
    assert (got.status_code, got.content) == (200, expected)  # read again by the route
    assert fast.served == served and not failures
    assert pg_inv.get(viewer, "/api/v1/events", limit=3).status_code == 200  # 2nd of 2
    assert pg_inv.get(viewer, "/api/v1/events", limit=3).status_code == 429


def test_a_cross_origin_request_gets_the_stacks_cors_answer(pg_control_ctx: ControlContext) -> None:
    pg_control_ctx.settings.http.cors_origins = ["https://app.example"]
    with contextmanager(open_inventory)(pg_control_ctx) as inv:
        _load(inv)
        fast, headers = _fast_path(inv), inv.a.viewer.headers
        plain = inv.client.get("/api/v1/events", headers=headers)
        served = fast.served
        crossed = inv.client.get(
            "/api/v1/events", headers={**headers, "Origin": "https://app.example"}
        )
        assert fast.served == served  # CORS is the stack's
        assert crossed.headers["access-control-allow-origin"] == "https://app.example"
        assert crossed.content == plain.content
        assert "access-control-allow-origin" not in plain.headers


def test_what_the_fast_path_serves_is_logged_and_counted_with_its_request_id(
    pg_inv: Inventory, caplog: pytest.LogCaptureFixture
) -> None:
    _load(pg_inv)
    fast, viewer = _fast_path(pg_inv), pg_inv.a.viewer
    served = fast.served
    with caplog.at_level(logging.INFO, logger="guardian.control.api.middleware"):
        named = pg_inv.client.get(
            "/api/v1/events", headers={**viewer.headers, "X-Request-Id": "r-1"}
        )
        unnamed = pg_inv.client.get("/api/v1/events", headers=viewer.headers)
    assert fast.served == served + 2
    assert named.headers["x-request-id"] == "r-1"
    made = unnamed.headers["x-request-id"]
    assert len(made) == 32 and made != "r-1"
    lines = [r.__dict__ for r in caplog.records if r.getMessage() == "request"]
    assert [(x["request_id"], x["route"], x["status"], x["method"]) for x in lines] == [
        ("r-1", "/api/v1/events", 200, "GET"),
        (made, "/api/v1/events", 200, "GET"),
    ]
    assert all(x["duration_ms"] >= 0 for x in lines)
