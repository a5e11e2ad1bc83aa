"""Live updates over real SSE: the app under uvicorn on loopback, read with httpx streaming."""

from __future__ import annotations

import datetime as dt
import json
import queue
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
import pytest
import uvicorn

from guardian.control.api.stream import HUB, end_streams
from guardian.control.app import create_app
from guardian.control.context import ControlContext, build_context
from guardian.control.inventory.live import FeedCursor, LiveHub
from guardian.control.inventory.retention import purge_before
from tests.control_fixtures import control_settings
from tests.control_helpers import (
    PASSWORD,
    assign_relay,
    make_relay,
    make_site,
    make_tenant,
    make_user,
)

WAIT_S = 5.0


class StreamingServer(uvicorn.Server):
    """uvicorn that ends live streams before waiting for open connections to finish."""

    def __init__(self, config: uvicorn.Config, ctx: ControlContext) -> None:
        super().__init__(config)
        self.ctx = ctx

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await end_streams(self.ctx)
        await super().shutdown(sockets)


@contextmanager
def serve(
    ctx: ControlContext, *, heartbeat_s: float = 0.3, poll_s: float | None = None
) -> Iterator[str]:
    """``create_app(ctx)`` on real uvicorn (lifespan on) in a thread; yields its base URL."""
    app = create_app(ctx)
    hub: LiveHub = ctx.services[HUB]
    hub.heartbeat_s = heartbeat_s
    if poll_s is not None:
        hub.poll_s = poll_s
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_config=None, access_log=False, timeout_graceful_shutdown=2)
    server = StreamingServer(config, ctx)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@dataclass
class Message:
    """One SSE message (``event`` is ``None`` for a comment such as the keep-alive)."""

    id: int | None
    event: str | None
    data: dict[str, Any] | None
    comment: str | None = None


class SseReader:
    """An SSE stream read by httpx in a thread; messages land in a queue."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.messages: queue.Queue[Message] = queue.Queue()
        self.status: int | None = None
        self._stop = threading.Event()
        self._opened = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(url, headers or {}), daemon=True)
        self._thread.start()
        assert self._opened.wait(WAIT_S), "stream did not open"
        assert self.status == 200, self.status

    def _run(self, url: str, headers: dict[str, str]) -> None:
        with (
            httpx.Client(timeout=httpx.Timeout(10.0)) as client,
            client.stream("GET", url, headers=headers) as response,
        ):
            self.status = response.status_code
            self._opened.set()
            fields: dict[str, str] = {}
            for line in response.iter_lines():
                if self._stop.is_set():
                    return
                if line.startswith(":"):
                    self.messages.put(Message(None, None, None, comment=line[1:].strip()))
                elif line:
                    name, _, value = line.partition(":")
                    fields[name] = value.removeprefix(" ")
                elif "data" in fields:
                    feed_id = int(fields["id"]) if "id" in fields else None
                    data = json.loads(fields["data"])
                    self.messages.put(Message(feed_id, fields.get("event"), data))
                    fields = {}
                else:
                    fields = {}

    def events(self, count: int, timeout: float = WAIT_S) -> list[Message]:
        """The next ``count`` event messages (comments skipped)."""
        found: list[Message] = []
        deadline = time.monotonic() + timeout
        while len(found) < count:
            try:
                message = self.messages.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"got {len(found)} of {count} events: {found}") from None
            if message.event is not None:
                found.append(message)
        return found

    def quiet(self, seconds: float) -> list[Message]:
        """Event messages that arrive within ``seconds`` (expected: none)."""
        time.sleep(seconds)
        drained = []
        while not self.messages.empty():
            message = self.messages.get_nowait()
            if message.event is not None:
                drained.append(message)
        return drained

    def close(self) -> None:
        # The thread notices at the next line (keep-alives arrive every few tenths of a second).
        self._stop.set()
        self._thread.join(WAIT_S)
        assert not self._thread.is_alive()


@dataclass(frozen=True)
class Shop:
    """A tenant with a site, a relay serving it, and a logged-in user's headers."""

    tenant_id: str
    site_id: str
    relay_token: str
    headers: dict[str, str]


def login(base_url: str, email: str) -> dict[str, str]:
    got = httpx.post(f"{base_url}/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert got.status_code == 200, got.text
    return {"Authorization": f"Bearer {got.json()['access_token']}"}


def make_shop(ctx: ControlContext, base_url: str, role: str = "viewer") -> Shop:
    tenant_id = make_tenant(ctx)
    site_id = make_site(ctx, tenant_id)
    relay_id, relay_token = make_relay(ctx)
    assign_relay(ctx, tenant_id, relay_id)
    _user_id, email = make_user(ctx, tenant_id, role)
    return Shop(tenant_id, site_id, relay_token, login(base_url, email))


def summary(
    shop: Shop, *, event_id: str | None = None, version: int = 1, **extra: Any
) -> dict[str, Any]:
    return {
        "id": event_id or str(uuid.uuid4()),
        "tenant_id": shop.tenant_id,
        "site_id": shop.site_id,
        "source_kind": "camera",
        "source_name": "front",
        "type": "interaction_detected",
        "label": "person",
        "zone": "shelf",
        "dwell_s": 3.5,
        "person_count": 1,
        "confidence": "high",
        "state": "ended",
        "started_at": "2026-03-01T09:00:00Z",
        "ended_at": "2026-03-01T09:00:06Z",
        "version": version,
        **extra,
    }


def ingest(base_url: str, shop: Shop, *events: dict[str, Any]) -> None:
    got = httpx.post(
        f"{base_url}/api/v1/ingest/events",
        json={"events": list(events)},
        headers={"Authorization": f"Bearer {shop.relay_token}"},
    )
    assert got.status_code == 200, got.text
    assert all(r["status"] in {"created", "updated"} for r in got.json()["results"]), got.text


def stream_url(base_url: str) -> str:
    return f"{base_url}/api/v1/events/stream"


def test_stream_pushes_the_callers_tenant_only(control_ctx: ControlContext) -> None:
    with serve(control_ctx) as url:
        shop_a, shop_b = make_shop(control_ctx, url), make_shop(control_ctx, url, "admin")
        reader_a = SseReader(stream_url(url), shop_a.headers)
        reader_b = SseReader(stream_url(url), shop_b.headers)
        try:
            mine = summary(shop_a)
            ingest(url, shop_b, summary(shop_b, type="person_detected"))
            ingest(url, shop_a, mine)
            (created,) = reader_a.events(1)
            ingest(url, shop_a, summary(shop_a, event_id=mine["id"], version=2, state="ended"))
            (updated,) = reader_a.events(1)
            assert (created.data or {})["change"] == "created"
            assert (updated.data or {})["change"] == "updated"
            assert created.id is not None and updated.id is not None and created.id < updated.id
            got = created.data or {}
            assert got["id"] == mine["id"] and got["site_id"] == shop_a.site_id
            assert got["camera"] == "front" and got["camera_id"] is not None
            assert got["type"] == "interaction_detected" and got["version"] == 1
            assert (updated.data or {})["version"] == 2

            (theirs,) = reader_b.events(1)
            assert (theirs.data or {})["type"] == "person_detected"
            assert reader_b.quiet(0.8) == []
            assert reader_a.quiet(0.2) == []
        finally:
            reader_a.close()
            reader_b.close()


def test_resume_with_last_event_id_replays_exactly_the_missed_ones(
    control_ctx: ControlContext,
) -> None:
    with serve(control_ctx) as url:
        shop = make_shop(control_ctx, url)
        ingest(url, shop, summary(shop, label="before"))  # not replayed to a fresh stream
        first = SseReader(stream_url(url), shop.headers)
        try:
            ingest(url, shop, summary(shop, label="seen"))
            (seen,) = first.events(1)
            assert (seen.data or {})["label"] == "seen"
        finally:
            first.close()

        missed = [summary(shop, label=f"missed-{i}") for i in range(3)]
        ingest(url, shop, *missed)
        ingest(url, shop, summary(shop, event_id=missed[0]["id"], version=2, label="missed-0b"))

        again = SseReader(stream_url(url), {**shop.headers, "Last-Event-ID": str(seen.id)})
        try:
            replayed = again.events(4)
            # Each message carries the event as it is now; the feed says what changed.
            changes = [((m.data or {})["id"], (m.data or {})["change"]) for m in replayed]
            assert sorted(changes[:3]) == sorted((e["id"], "created") for e in missed)
            assert changes[3] == (missed[0]["id"], "updated")
            labels = {(m.data or {})["id"]: (m.data or {})["label"] for m in replayed}
            assert labels[missed[0]["id"]] == "missed-0b"
            ids = [m.id or 0 for m in replayed]
            assert ids == sorted(ids) and ids[0] > (seen.id or 0)
            assert again.quiet(0.8) == []  # nothing else: no duplicates, nothing older
            ingest(url, shop, summary(shop, label="live"))
            (live,) = again.events(1)
            assert (live.data or {})["label"] == "live"
        finally:
            again.close()


def test_resume_after_the_newest_change_was_purged_misses_nothing(
    control_ctx: ControlContext,
) -> None:
    """Retention deletes an expired event's feed rows; when those were the newest, their ids
    must stay retired (SQLite handed them out again), or a client resuming from one of
    them would never be sent the change that took it.
    """
    with serve(control_ctx) as url:
        shop = make_shop(control_ctx, url)
        reader = SseReader(stream_url(url), shop.headers)
        try:
            old = summary(shop, label="old", started_at="2020-01-01T00:00:00Z")
            ingest(url, shop, old)
            (seen,) = reader.events(1)
            assert (seen.data or {})["id"] == old["id"]
        finally:
            reader.close()
        with control_ctx.db.system() as session:
            purged = purge_before(session, shop.tenant_id, dt.datetime(2021, 1, 1, tzinfo=dt.UTC))
        assert purged == 1
        fresh = summary(shop, label="fresh")
        ingest(url, shop, fresh)
        again = SseReader(stream_url(url), {**shop.headers, "Last-Event-ID": str(seen.id)})
        try:
            (replayed,) = again.events(1)
            assert (replayed.data or {})["id"] == fresh["id"]
            assert (replayed.id or 0) > (seen.id or 0)
        finally:
            again.close()


def test_browser_style_query_token_and_resume(sqlite_control_ctx: ControlContext) -> None:
    with serve(sqlite_control_ctx) as url:
        shop = make_shop(sqlite_control_ctx, url)
        ingest(url, shop, summary(shop, label="one"), summary(shop, label="two"))
        token = shop.headers["Authorization"].removeprefix("Bearer ")
        reader = SseReader(f"{stream_url(url)}?access_token={token}&last_event_id=0")
        try:
            labels = [(m.data or {})["label"] for m in reader.events(2)]
            assert sorted(labels) == ["one", "two"]
        finally:
            reader.close()


def test_stream_refuses_missing_or_bad_credentials(sqlite_control_ctx: ControlContext) -> None:
    with serve(sqlite_control_ctx) as url:
        shop = make_shop(sqlite_control_ctx, url)
        assert httpx.get(stream_url(url)).status_code == 401
        bad = httpx.get(f"{stream_url(url)}?access_token=not-a-token")
        assert bad.status_code == 401
        assert bad.json()["error"]["code"] in {"unauthorized", "invalid_token"}
        junk = httpx.get(stream_url(url), headers={**shop.headers, "Last-Event-ID": "x"})
        assert junk.status_code == 422


def test_keep_alive_and_disconnect_frees_the_subscriber(sqlite_control_ctx: ControlContext) -> None:
    with serve(sqlite_control_ctx, heartbeat_s=0.2) as url:
        hub: LiveHub = sqlite_control_ctx.services[HUB]
        shop = make_shop(sqlite_control_ctx, url)
        reader = SseReader(stream_url(url), shop.headers)
        assert hub.count(shop.tenant_id) == 1
        comments = [reader.messages.get(timeout=WAIT_S).comment for _ in range(2)]
        assert comments == ["keep-alive", "keep-alive"]
        reader.close()
        deadline = time.monotonic() + WAIT_S
        while hub.count() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert hub.count() == 0


def test_app_shutdown_ends_open_streams(sqlite_control_ctx: ControlContext) -> None:
    with serve(sqlite_control_ctx, heartbeat_s=30) as url:
        shop = make_shop(sqlite_control_ctx, url)
        ended = threading.Event()

        def hold() -> None:
            with httpx.stream("GET", stream_url(url), headers=shop.headers, timeout=30) as got:
                for _ in got.iter_lines():
                    pass
            ended.set()  # only on a cleanly finished response (an abort raises)

        threading.Thread(target=hold, daemon=True).start()
        hub: LiveHub = sqlite_control_ctx.services[HUB]
        deadline = time.monotonic() + WAIT_S
        while not hub.count() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert hub.count() == 1
    assert ended.wait(WAIT_S), "the stream outlived the server"
    assert hub.closed and hub.count() == 0


def test_two_instances_on_one_postgres_deliver_through_listen_notify(
    pg_control_ctx: ControlContext, tmp_path: Any
) -> None:
    url2_db = pg_control_ctx.settings.database_url
    other = build_context(control_settings(tmp_path / "two", url2_db), migrate=False)
    try:
        # Instance 2 polls only every minute: anything arriving sooner came by NOTIFY.
        with serve(pg_control_ctx) as one, serve(other, poll_s=60) as two:
            shop = make_shop(pg_control_ctx, one)
            reader = SseReader(stream_url(two), shop.headers)
            try:
                for i in range(2):
                    sent = time.monotonic()
                    ingest(one, shop, summary(shop, label=f"n{i}"))
                    (got,) = reader.events(1, timeout=2.0)
                    assert (got.data or {})["label"] == f"n{i}"
                    assert time.monotonic() - sent < 2.0
            finally:
                reader.close()
    finally:
        other.db.dispose()


def test_hub_reconnects_its_listen_connection(pg_control_ctx: ControlContext) -> None:
    with serve(pg_control_ctx, poll_s=60) as url:
        hub: LiveHub = pg_control_ctx.services[HUB]
        shop = make_shop(pg_control_ctx, url)
        reader = SseReader(stream_url(url), shop.headers)
        try:
            assert hub.listening and hub.listen_connects == 1
            dsn = pg_control_ctx.db.engine.url.set(drivername="postgresql")
            with psycopg.connect(dsn.render_as_string(hide_password=False), autocommit=True) as c:
                killed = c.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = 'guardian-live-hub' AND datname = current_database()"
                ).fetchall()
            assert killed == [(True,)]
            deadline = time.monotonic() + WAIT_S
            while hub.listen_connects < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert hub.listening and hub.listen_connects == 2
            ingest(url, shop, summary(shop, label="after-restart"))
            (got,) = reader.events(1, timeout=2.0)
            assert (got.data or {})["label"] == "after-restart"
        finally:
            reader.close()


def test_feed_cursor_delivers_a_late_commit_once_within_the_grace() -> None:
    cursor = FeedCursor(horizon=10, grace_s=5.0)
    assert cursor.fresh([11, 13]) == [11, 13]
    cursor.delivered(11, now=100.0)
    cursor.delivered(13, now=100.0)
    cursor.settle(now=101.0)
    assert cursor.horizon == 10
    assert cursor.fresh([11, 12, 13]) == [12]  # 12 committed after 13 was delivered
    cursor.delivered(12, now=101.0)
    cursor.settle(now=105.5)
    assert cursor.horizon == 13 and cursor.recent == {}
    assert cursor.fresh([12, 13, 14]) == [14]


def test_feed_cursor_bounds_what_it_remembers() -> None:
    cursor = FeedCursor(horizon=0, grace_s=60.0, max_recent=3)
    for feed_id in range(1, 6):
        cursor.delivered(feed_id, now=0.0)
    cursor.settle(now=1.0)
    assert cursor.horizon == 2 and sorted(cursor.recent) == [3, 4, 5]


@pytest.mark.parametrize("payload", ["tenant-a:7", "tenant-a"])
def test_hub_wakes_only_the_notified_tenant(
    sqlite_control_ctx: ControlContext, payload: str
) -> None:
    hub = LiveHub(sqlite_control_ctx.db)
    a, b = hub.subscribe("tenant-a"), hub.subscribe("tenant-b")
    hub.on_notify(payload)
    assert a._wake.is_set() and not b._wake.is_set()
    hub.unsubscribe(a)
    hub.unsubscribe(b)
    assert hub.count() == 0
