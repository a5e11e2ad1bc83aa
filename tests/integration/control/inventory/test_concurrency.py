"""Concurrent duplicate sends of the same new events make exactly one row each."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from guardian.control.app import create_app
from guardian.control.context import build_context
from guardian.control.store.tables import Camera, Event, EventFeed
from tests.integration.control.inventory.conftest import Inventory


def _send_together(clients: list[TestClient], headers: dict[str, str], body: Any) -> list[Any]:
    # One request per app first: FastAPI builds a route's validators lazily on first use,
    # and that step is not thread-safe; the race under test is the database's, not that.
    for client in {id(c): c for c in clients}.values():
        warm = client.post("/api/v1/ingest/events", json={"events": []}, headers=headers)
        assert warm.status_code == 200, warm.text
    barrier = threading.Barrier(len(clients))
    results: list[Any] = [None] * len(clients)

    def send(i: int) -> None:
        barrier.wait()
        got = clients[i].post("/api/v1/ingest/events", json=body, headers=headers)
        results[i] = (got.status_code, got.json())

    threads = [threading.Thread(target=send, args=(i,)) for i in range(len(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def _assert_one_row_each(inv: Inventory, events: list[dict[str, Any]], results: list[Any]) -> None:
    assert all(status == 200 for status, _ in results), results
    for index, event in enumerate(events):
        statuses = Counter(body["results"][index]["status"] for _, body in results)
        assert statuses["created"] == 1, statuses
        assert set(statuses) <= {"created", "unchanged"}
        assert event["id"]
    with inv.ctx.db.system() as session:
        assert session.scalar(select(func.count()).select_from(Event)) == len(events)
        assert session.scalar(select(func.count()).select_from(EventFeed)) == len(events)
        assert session.scalar(select(func.count()).select_from(Camera)) == 1


def test_threads_sending_the_same_batch_make_one_row_each(inv: Inventory) -> None:
    events = [inv.a.summary(source_name="new-cam") for _ in range(20)]
    clients = [inv.client] * 4
    _assert_one_row_each(
        inv, events, _send_together(clients, inv.a.relay_headers, {"events": events})
    )


def test_two_apps_on_one_postgres_database(pg_inv: Inventory) -> None:
    inv = pg_inv
    second_ctx = build_context(inv.ctx.settings, migrate=False)
    try:
        with TestClient(create_app(second_ctx)) as second:
            events = [inv.a.summary(source_name="new-cam") for _ in range(20)]
            clients = [inv.client, second, inv.client, second]
            results = _send_together(clients, inv.a.relay_headers, {"events": events})
            _assert_one_row_each(inv, events, results)
    finally:
        second_ctx.db.dispose()
