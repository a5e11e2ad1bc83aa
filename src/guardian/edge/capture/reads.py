"""Hot-path reads of the ingest and the worker (device key, a capture) that take no lock.

Every SQLAlchemy transaction on the edge's SQLite starts with ``BEGIN IMMEDIATE`` (the
write lock), so reading through a session would queue each upload's two lookups behind
every writer. These reads are single autocommit statements on driver connections instead
(WAL readers never block or wait for the writer; on PostgreSQL a lone SELECT needs no
transaction either). The connections are kept for these reads alone, taken out of the
engine's pool for good: a pooled checkout costs a pre-ping round trip on PostgreSQL, a
reset and its bookkeeping — on a loaded box ~0.9 ms of CPU per read, where the statement
itself costs ~0.1 ms.
"""

from __future__ import annotations

import datetime as dt
import threading
import weakref
from typing import Any, NamedTuple

from sqlalchemy import Engine, event

# Idle connections kept per engine; a burst beyond opens more and closes them after.
KEEP_IDLE = 8

_SQL = {
    "device": "SELECT key_sealed, revoked_at IS NOT NULL FROM devices WHERE id = ?",
    "capture": "SELECT id, sha256, status FROM captures WHERE device_id = ? AND device_seq = ?",
    "detection_input": (
        "SELECT id, device_id, captured_at, storage_uri FROM captures WHERE id = ?"
    ),
}
# psycopg's placeholder; none of the statements has a literal "?" or "%".
_PG_SQL = {name: sql.replace("?", "%s") for name, sql in _SQL.items()}


class _DriverConnections:
    """Driver connections for single-statement reads, detached from the engine's pool."""

    def __init__(self, engine: Engine) -> None:
        self._engine = weakref.ref(engine)
        self._postgres = engine.dialect.name == "postgresql"
        self._sql = _PG_SQL if self._postgres else _SQL
        dbapi = engine.dialect.loaded_dbapi
        # Errors after which a connection is not trusted again (lost, or in a bad state).
        self._broken: tuple[type[BaseException], ...] = (
            dbapi.OperationalError,
            dbapi.InterfaceError,
        )
        self._lock = threading.Lock()
        self._idle: list[Any] = []

    def one(self, name: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
        """The first row of statement ``name``; one retry on a fresh connection if the
        connection turned out to be dead (e.g. the server restarted)."""
        sql = self._sql[name]
        for attempt in (1, 2):
            conn = self._take()
            try:
                cursor = conn.cursor()
                try:
                    cursor.execute(sql, params)
                    row = cursor.fetchone()
                finally:
                    cursor.close()
            except self._broken:
                conn.close()
                if attempt == 2:
                    raise
                continue
            except BaseException:
                conn.close()  # its state is unknown: never reuse it
                raise
            self._give_back(conn)
            return None if row is None else tuple(row)
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Close the idle connections (the engine's pool was disposed, or the engine is
        gone); later reads open new ones."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def _take(self) -> Any:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        engine = self._engine()
        if engine is None:
            raise RuntimeError("the engine of these reads is gone")
        conn = engine.raw_connection()  # runs the engine's connect hooks (SQLite pragmas)
        conn.detach()  # ours now: no pool checkout, ping or reset on each use
        if self._postgres:
            driver = conn.dbapi_connection
            assert driver is not None
            driver.autocommit = True  # a lone SELECT: no transaction left open after it
        return conn

    def _give_back(self, conn: Any) -> None:
        with self._lock:
            if len(self._idle) < KEEP_IDLE:
                self._idle.append(conn)
                return
        conn.close()


_READERS: weakref.WeakKeyDictionary[Engine, _DriverConnections] = weakref.WeakKeyDictionary()
_READERS_LOCK = threading.Lock()


def _readers(engine: Engine) -> _DriverConnections:
    with _READERS_LOCK:
        found = _READERS.get(engine)
        if found is None:
            found = _READERS[engine] = _DriverConnections(engine)
            # Closed with the engine's pool, or when the engine itself is collected.
            event.listen(engine, "engine_disposed", lambda _engine: found.close())
            weakref.finalize(engine, found.close)
        return found


def device_key_row(engine: Engine, device_id: str) -> tuple[bytes, bool] | None:
    """``(sealed key, revoked)`` of a registered device, or ``None`` if unknown."""
    row = _readers(engine).one("device", (device_id,))
    if row is None:
        return None
    return bytes(row[0]), bool(row[1])


def capture_by_seq(engine: Engine, device_id: str, device_seq: int) -> tuple[str, str, str] | None:
    """``(capture_id, sha256, status)`` of a device's capture with that sequence number."""
    row = _readers(engine).one("capture", (device_id, device_seq))
    if row is None:
        return None
    return str(row[0]), str(row[1]), str(row[2])


class DetectionInput(NamedTuple):
    """What the worker needs of a capture to detect on it and place its event."""

    id: str
    device_id: str
    captured_at: dt.datetime
    storage_uri: str


def _utc(value: Any) -> dt.datetime:
    # SQLite hands back the naive UTC text SQLAlchemy stored; PostgreSQL an aware datetime.
    when = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    return when.replace(tzinfo=dt.UTC) if when.tzinfo is None else when.astimezone(dt.UTC)


def detection_input(engine: Engine, capture_id: str) -> DetectionInput | None:
    """The capture a detection job refers to, or ``None`` if there is no such row."""
    row = _readers(engine).one("detection_input", (capture_id,))
    if row is None:
        return None
    return DetectionInput(str(row[0]), str(row[1]), _utc(row[2]), str(row[3]))
