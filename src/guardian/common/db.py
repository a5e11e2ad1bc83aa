"""Database engines for every service: SQLite (WAL) embedded, PostgreSQL in production."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 30_000


def normalise_url(url: str) -> str:
    """Use the psycopg 3 driver for ``postgresql://`` URLs; leave others alone."""
    scheme, sep, rest = url.partition("://")
    if sep and scheme in {"postgresql", "postgres"}:
        return f"postgresql+psycopg://{rest}"
    return url


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy URL of a SQLite file."""
    return f"sqlite+pysqlite:///{path}"


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets readers run beside the single writer; NORMAL is durable across process
    # crashes in WAL mode (an OS crash may lose the last commits, never corrupt).
    # Autocommit off at the driver level so SQLAlchemy's BEGIN (sent below) is the only
    # transaction control: it makes "BEGIN IMMEDIATE" possible for writers.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.close()


def _sqlite_on_begin(conn: Any) -> None:
    # Take the write lock at BEGIN: SQLite otherwise upgrades a read transaction to a write
    # one mid-way and fails with "database is locked" instead of waiting (busy_timeout).
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def create_db_engine(url: str, *, pool_size: int = 5) -> Engine:
    """An engine configured for Guardian: WAL and immediate transactions on SQLite."""
    url = normalise_url(url)
    if make_url(url).get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    return create_engine(url, pool_size=pool_size, max_overflow=10, pool_pre_ping=True)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


def utcnow() -> dt.datetime:
    """Timezone-aware current UTC time (the only clock the stores use)."""
    return dt.datetime.now(dt.UTC)
