"""Hot-path reads of the ingest (device key, an existing capture) that never take a lock.

Every SQLAlchemy transaction on the edge's SQLite starts with ``BEGIN IMMEDIATE`` (the
write lock), so reading through a session would queue each upload's two lookups behind
every writer. These reads run as single autocommit statements on the pooled driver
connection instead (WAL readers never block or wait for the writer). On PostgreSQL a
plain Core read is already lock-free.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, select

from guardian.edge.store.tables import Capture, Device

_SQLITE_DEVICE = "SELECT key_sealed, revoked_at IS NOT NULL FROM devices WHERE id = ?"
_SQLITE_DETECTION_INPUT = (
    "SELECT id, device_id, captured_at, storage_uri FROM captures WHERE id = ?"
)
_SQLITE_CAPTURE = "SELECT id, sha256, status FROM captures WHERE device_id = ? AND device_seq = ?"


def _sqlite_one(engine: Engine, sql: str, params: tuple[Any, ...]) -> tuple[Any, ...] | None:
    # The driver connection is in autocommit mode (see guardian.common.db), so this
    # SELECT is its own read transaction: no BEGIN, no write lock.
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        try:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        finally:
            cursor.close()
    finally:
        raw.close()
    return None if row is None else tuple(row)


def _autocommit(engine: Engine) -> Connection:
    # A lone SELECT needs no transaction: autocommit saves the BEGIN and ROLLBACK round
    # trips (each a wake-up of the server process) around it.
    return engine.connect().execution_options(isolation_level="AUTOCOMMIT")


def device_key_row(engine: Engine, device_id: str) -> tuple[bytes, bool] | None:
    """``(sealed key, revoked)`` of a registered device, or ``None`` if unknown."""
    if engine.dialect.name == "sqlite":
        row = _sqlite_one(engine, _SQLITE_DEVICE, (device_id,))
    else:
        with _autocommit(engine) as conn:
            found = conn.execute(
                select(Device.key_sealed, Device.revoked_at.is_not(None)).where(
                    Device.id == device_id
                )
            ).one_or_none()
        row = None if found is None else tuple(found)
    if row is None:
        return None
    return bytes(row[0]), bool(row[1])


def capture_by_seq(engine: Engine, device_id: str, device_seq: int) -> tuple[str, str, str] | None:
    """``(capture_id, sha256, status)`` of a device's capture with that sequence number."""
    if engine.dialect.name == "sqlite":
        row = _sqlite_one(engine, _SQLITE_CAPTURE, (device_id, device_seq))
    else:
        with _autocommit(engine) as conn:
            found = conn.execute(
                select(Capture.id, Capture.sha256, Capture.status).where(
                    Capture.device_id == device_id, Capture.device_seq == device_seq
                )
            ).one_or_none()
        row = None if found is None else tuple(found)
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
    if engine.dialect.name == "sqlite":
        row = _sqlite_one(engine, _SQLITE_DETECTION_INPUT, (capture_id,))
    else:
        with _autocommit(engine) as conn:
            found = conn.execute(
                select(
                    Capture.id, Capture.device_id, Capture.captured_at, Capture.storage_uri
                ).where(Capture.id == capture_id)
            ).one_or_none()
        row = None if found is None else tuple(found)
    if row is None:
        return None
    return DetectionInput(str(row[0]), str(row[1]), _utc(row[2]), str(row[3]))
