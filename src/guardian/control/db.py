"""Control plane database sessions: a system session and tenant-scoped sessions.

A tenant session is a transaction that, on PostgreSQL, switches to the API role (which
does not own the tables, so row-level security applies) and sets ``guardian.tenant_id``:
a query that forgets its tenant filter still sees only that tenant's rows. On SQLite the
repositories' filters are the only scoping (the documented fallback).

The API's hottest read (the event timeline) also has an asyncio path on PostgreSQL,
``AsyncTenantReads``: the same tenant transaction, pipelined in one round trip on a few
connections of its own, without a worker thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import psycopg
from psycopg.pq import TransactionStatus
from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from guardian.common.db import session_factory

logger = logging.getLogger(__name__)
TENANT_SETTING = "guardian.tenant_id"
ASYNC_READ_CONNECTIONS = 4  # per process, beside the engine's pool
# One statement: ``set_config('role', …, true)`` is SET LOCAL ROLE.
_SCOPE = select(text("set_config('role', :role, true), set_config(:name, :value, true)"))
_SCOPE_SQL = "SELECT set_config('role', %(role)s, true), set_config(%(name)s, %(value)s, true)"


class Database:
    """Sessions of the control plane store."""

    def __init__(self, engine: Engine, app_role: str = "guardian_app") -> None:
        if not app_role.replace("_", "").isalnum():
            raise ValueError(f"invalid role name {app_role!r}")
        self.engine = engine
        self.app_role = app_role
        self.sessions: sessionmaker[Session] = session_factory(engine)
        self.reads: AsyncTenantReads | None = None
        if self.postgres:
            # What SQLAlchemy's dialect would pass psycopg for the engine's URL.
            _args, params = engine.dialect.create_connect_args(engine.url)
            params.pop("context", None)  # SQLAlchemy's adapters, not a connection option
            self.reads = AsyncTenantReads(params, app_role)

    @property
    def postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def dispose(self) -> None:
        """Close every pooled connection: the engine's and the asyncio reads' idle ones."""
        if self.reads is not None:
            self.reads.discard()
        self.engine.dispose()

    @contextmanager
    def system(self) -> Iterator[Session]:
        """A transaction with the owner's rights (CLI, login lookups, relay ingest routing)."""
        with self.sessions.begin() as session:
            yield session

    def _scope(self, tenant_id: str) -> dict[str, str]:
        return _scope(self.app_role, tenant_id)

    @contextmanager
    def tenant(self, tenant_id: str) -> Iterator[Session]:
        """A transaction confined to ``tenant_id`` (RLS on PostgreSQL)."""
        with self.sessions.begin() as session:
            if self.postgres:
                session.execute(_SCOPE, self._scope(tenant_id))
            yield session

    @contextmanager
    def tenant_connection(self, tenant_id: str) -> Iterator[Connection]:
        """Like ``tenant`` but a Core connection: no ORM session, for hot read paths."""
        with self.engine.begin() as conn:
            if self.postgres:
                conn.execute(_SCOPE, self._scope(tenant_id))
            yield conn


def _scope(role: str, tenant_id: str) -> dict[str, str]:
    return {"role": role, "name": TENANT_SETTING, "value": tenant_id}


class AsyncTenantReads:
    """Read-only statements in tenant transactions on asyncio psycopg connections.

    ``Database.tenant`` without a worker thread: the role and tenant setting (row-level
    security applies as there) and the statement go to PostgreSQL pipelined, one round trip
    and one transaction. At most ``size`` connections, opened on first use and kept; they belong
    to the event loop that opened them (a new loop starts afresh). A connection that fails
    is closed, never reused; one found broken when taken is replaced once.
    """

    def __init__(
        self, connect: Mapping[str, Any], app_role: str, size: int = ASYNC_READ_CONNECTIONS
    ) -> None:
        self._connect = dict(connect)  # psycopg.connect keyword arguments
        self._role = app_role
        self._size = size
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slots = asyncio.Semaphore(size)
        self._idle: list[psycopg.AsyncConnection[Any]] = []

    def _bind(self) -> None:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            for conn in self._idle:  # a previous loop's, which can no longer await them
                conn.pgconn.finish()
            self._idle = []
            self._slots = asyncio.Semaphore(self._size)
            self._loop = loop

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        self._bind()
        async with self._slots:
            conn = self._idle.pop() if self._idle else None
            if conn is None or conn.closed or conn.broken:
                conn = await psycopg.AsyncConnection.connect(**self._connect, autocommit=True)
                # Times then arrive as datetime.UTC, the API's zone (no per-value work).
                await conn.execute("SET TimeZone TO 'UTC'")
            try:
                yield conn
            except BaseException:
                await conn.close()
                raise
            if conn.info.transaction_status == TransactionStatus.IDLE:
                self._idle.append(conn)
            else:
                await conn.close()

    async def rows(
        self, tenant_id: str, sql: str, params: Mapping[str, Any]
    ) -> list[tuple[Any, ...]]:
        """The rows of one read-only statement (psycopg SQL) in a transaction confined to
        ``tenant_id``.
        """
        try:
            return await self._rows(tenant_id, sql, params)
        except psycopg.OperationalError:
            # Kept connections die together (a server restart, a network cut): drop them
            # and try once more on a new one; a second failure is the caller's.
            logger.warning("tenant read failed; retrying on a new connection")
            await self.aclose()
            return await self._rows(tenant_id, sql, params)

    async def _rows(
        self, tenant_id: str, sql: str, params: Mapping[str, Any]
    ) -> list[tuple[Any, ...]]:
        async with self._connection() as conn:
            cursor = conn.cursor(binary=True)  # cheaper to produce and parse, same values
            # Pipelined up to one Sync, the two statements are one implicit transaction
            # (PostgreSQL's extended protocol): the LOCAL role and tenant hold for the
            # SELECT and end with it, as in ``tenant``, without BEGIN and COMMIT.
            async with conn.pipeline():
                await conn.execute(_SCOPE_SQL, _scope(self._role, tenant_id))
                await cursor.execute(sql, params)
            return await cursor.fetchall()

    def discard(self) -> None:
        """Close the idle connections without an event loop (their loop may be gone)."""
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.pgconn.finish()

    async def aclose(self) -> None:
        """Close the idle connections (app shutdown); the next read opens new ones."""
        if self._loop is not asyncio.get_running_loop():
            self._bind()  # another loop's connections: finished, not awaited
            return
        idle, self._idle = self._idle, []
        for conn in idle:
            await conn.close()
