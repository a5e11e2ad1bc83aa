"""Live event updates: read a tenant's ``event_feed`` and wake subscribers when it grows.

The feed table is the source of truth; notifications are only wake-ups. A ``LiveHub`` per
app process wakes the subscribers of a tenant when PostgreSQL sends ``NOTIFY
guardian_events '<tenant_id>:<feed id>'`` (one dedicated ``LISTEN`` connection, reconnected
after errors) and, as a safety net and as the SQLite fallback, polls the feed's newest id.
Each subscriber then reads its own tenant's rows after its cursor in a tenant session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import psycopg
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from guardian.control.db import Database
from guardian.control.inventory.feed import NOTIFY_CHANNEL
from guardian.control.inventory.queries import event_out
from guardian.control.store.tables import Camera, Event, EventFeed

logger = logging.getLogger(__name__)

REPLAY_LIMIT = 1000  # feed rows replayed at most on resume (the newest ones)
BATCH = 200  # feed rows read per query
SQLITE_POLL_S = 0.5
POSTGRES_POLL_S = 5.0
LATE_COMMIT_GRACE_S = 10.0
HEARTBEAT_S = 15.0
CONNECT_TIMEOUT_S = 5
_APPLICATION_NAME = "guardian-live-hub"


@dataclass(frozen=True, slots=True)
class Change:
    """One feed row with the event as the API shows it (EventOut JSON plus ``change``)."""

    feed_id: int
    kind: str
    event: dict[str, Any]


@dataclass
class FeedCursor:
    """The feed ids a subscriber has delivered, tolerant of ids committed out of order.

    Sequence ids are taken at insert time but become visible at commit, so id 10 may show
    up after id 11 was delivered. Ids above ``horizon`` delivered less than ``grace_s`` ago
    are remembered and the range above ``horizon`` is read again, so such a late row is
    still delivered (once) if it commits within the grace period.
    """

    horizon: int
    grace_s: float = LATE_COMMIT_GRACE_S
    max_recent: int = 4 * BATCH
    recent: dict[int, float] = field(default_factory=dict)  # feed id -> delivered at

    def fresh(self, ids: list[int]) -> list[int]:
        """The ids of ``ids`` not delivered yet, in order."""
        return [i for i in ids if i > self.horizon and i not in self.recent]

    def delivered(self, feed_id: int, now: float) -> None:
        self.recent[feed_id] = now

    def settle(self, now: float) -> None:
        """Advance ``horizon`` past ids delivered long enough ago (or too many to keep)."""
        old = [i for i, at in self.recent.items() if now - at >= self.grace_s]
        overflow = len(self.recent) - self.max_recent
        if overflow > 0:
            old.extend(sorted(self.recent)[:overflow])
        if old:
            self.horizon = max(self.horizon, *old)
        self.recent = {i: at for i, at in self.recent.items() if i > self.horizon}


def latest_feed_id(session: Session, tenant_id: str) -> int:
    """The tenant's newest feed id (0 when it has none)."""
    found = session.scalar(select(func.max(EventFeed.id)).where(EventFeed.tenant_id == tenant_id))
    return int(found or 0)


def replay_start(session: Session, tenant_id: str, after_id: int, limit: int = REPLAY_LIMIT) -> int:
    """Cursor to resume from ``after_id``: at most the newest ``limit`` missed rows follow it."""
    cutoff = session.scalar(
        select(EventFeed.id)
        .where(EventFeed.tenant_id == tenant_id, EventFeed.id > after_id)
        .order_by(EventFeed.id.desc())
        .offset(limit)
        .limit(1)
    )
    return after_id if cutoff is None else int(cutoff)


def read_changes(
    session: Session, tenant_id: str, cursor: FeedCursor, limit: int = BATCH
) -> list[Change]:
    """The tenant's feed rows after ``cursor`` not delivered yet (oldest first, ≤ ``limit``).

    Marks them delivered. Rows whose event no longer exists are skipped.
    """
    now = time.monotonic()
    cursor.settle(now)
    ids = session.scalars(
        select(EventFeed.id)
        .where(EventFeed.tenant_id == tenant_id, EventFeed.id > cursor.horizon)
        .order_by(EventFeed.id)
        .limit(limit + len(cursor.recent))
    ).all()
    fresh = cursor.fresh(list(ids))[:limit]
    if not fresh:
        return []
    camera_name = func.coalesce(Camera.display_name, Camera.edge_name)
    rows = session.execute(
        select(EventFeed.id, EventFeed.kind, Event, camera_name)
        .join(Event, (Event.id == EventFeed.event_id) & (Event.tenant_id == EventFeed.tenant_id))
        .outerjoin(Camera, (Camera.id == Event.camera_id) & (Camera.tenant_id == tenant_id))
        .where(EventFeed.tenant_id == tenant_id, EventFeed.id.in_(fresh))
        .order_by(EventFeed.id)
    ).all()
    for feed_id in fresh:
        cursor.delivered(feed_id, now)
    return [
        Change(
            int(feed_id), kind, {**event_out(event, camera).model_dump(mode="json"), "change": kind}
        )
        for feed_id, kind, event, camera in rows
    ]


class Subscription:
    """One stream's wake-up flag for its tenant."""

    def __init__(self, tenant_id: str) -> None:
        self.tenant_id = tenant_id
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def wait(self, timeout: float) -> bool:
        """Wait for a wake-up (``True``) or ``timeout`` seconds (``False``); clears the flag."""
        try:
            await asyncio.wait_for(self._wake.wait(), timeout)
        except TimeoutError:
            return False
        self._wake.clear()
        return True


class LiveHub:
    """Per-app registry of live subscribers, woken by LISTEN/NOTIFY and by polling."""

    def __init__(
        self,
        db: Database,
        *,
        poll_s: float | None = None,
        listen: bool | None = None,
        reconnect_s: float = 1.0,
        heartbeat_s: float = HEARTBEAT_S,
    ) -> None:
        self.db = db
        self.poll_s = (
            poll_s if poll_s is not None else (POSTGRES_POLL_S if db.postgres else SQLITE_POLL_S)
        )
        self.listen = db.postgres if listen is None else listen
        self.reconnect_s = reconnect_s
        self.heartbeat_s = heartbeat_s  # idle time before a stream sends a keep-alive
        self.listening = False  # a LISTEN connection is up
        self.listen_connects = 0  # LISTEN connections made so far
        self._subscribers: dict[str, set[Subscription]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = True

    @property
    def closed(self) -> bool:
        return self._closed

    def subscribe(self, tenant_id: str) -> Subscription:
        sub = Subscription(tenant_id)
        self._subscribers.setdefault(tenant_id, set()).add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        subs = self._subscribers.get(sub.tenant_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subscribers[sub.tenant_id]

    def count(self, tenant_id: str | None = None) -> int:
        """Live subscribers (of ``tenant_id``, or of all tenants)."""
        if tenant_id is not None:
            return len(self._subscribers.get(tenant_id, ()))
        return sum(len(subs) for subs in self._subscribers.values())

    def wake(self, tenant_id: str) -> None:
        for sub in self._subscribers.get(tenant_id, ()):
            sub.wake()

    def wake_all(self) -> None:
        for subs in self._subscribers.values():
            for sub in subs:
                sub.wake()

    async def start(self) -> None:
        """Start polling (and listening on PostgreSQL) in the running event loop."""
        if not self._closed:
            return
        self._closed = False
        self._tasks = [asyncio.create_task(self._poll(), name="live-hub-poll")]
        if self.listen:
            self._tasks.append(asyncio.create_task(self._listen(), name="live-hub-listen"))

    async def stop(self) -> None:
        """End every stream and stop the background tasks."""
        self._closed = True
        self.wake_all()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        self.listening = False

    def _max_feed_id(self) -> int:
        # Only the newest id across tenants, never tenant data: a wake-up signal.
        with self.db.system() as session:
            return int(session.scalar(select(func.max(EventFeed.id))) or 0)

    async def _poll(self) -> None:
        last: int | None = None
        while True:
            try:
                newest = await asyncio.to_thread(self._max_feed_id)
            except Exception:
                logger.warning("live feed poll failed", exc_info=True)
            else:
                if newest != last:
                    if last is not None:
                        self.wake_all()
                    last = newest
            await asyncio.sleep(self.poll_s)

    def _conninfo(self) -> str:
        return self.db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)

    def on_notify(self, payload: str) -> None:
        """Wake the subscribers of the tenant named in a ``'<tenant_id>:<feed id>'`` payload."""
        tenant_id, _, _ = payload.partition(":")
        self.wake(tenant_id)

    async def _listen(self) -> None:
        while True:
            try:
                await self._listen_once()
            except Exception as exc:
                # Only the type: messages may carry connection details.
                logger.warning("live LISTEN connection lost, reconnecting: %s", type(exc).__name__)
            finally:
                self.listening = False
            await asyncio.sleep(self.reconnect_s)

    async def _listen_once(self) -> None:
        async with await psycopg.AsyncConnection.connect(
            self._conninfo(),
            autocommit=True,
            application_name=_APPLICATION_NAME,
            connect_timeout=CONNECT_TIMEOUT_S,
        ) as conn:
            await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
            self.listening = True
            self.listen_connects += 1
            # Notifications sent while we were disconnected are lost: let everyone re-read.
            self.wake_all()
            while True:
                async for note in conn.notifies(timeout=self.poll_s):
                    self.on_notify(note.payload)
                await conn.execute("SELECT 1")  # a dead server shows up here
