"""Relay store fixtures: a migrated relay database on SQLite and on PostgreSQL.

``relay_db`` is parametrised over both engines, so a test using it runs twice; use
``sqlite_relay_db`` or ``pg_relay_db`` for one engine only. Each yields a ``RelayDb``
with the engine, its URL, a session factory and ``RelaySettings`` whose data dir is a
fresh tmp dir.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from guardian.common.db import create_db_engine, session_factory
from guardian.relay.config import RelaySettings
from guardian.relay.store.schema import upgrade


@dataclass
class RelayDb:
    """A migrated relay database for one test."""

    engine: Engine
    url: str
    settings: RelaySettings

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def sessions(self) -> sessionmaker[Session]:
        return session_factory(self.engine)


def _migrate_relay(url: str) -> None:
    engine = create_db_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()


def _settings(tmp_path: Path, url: str | None) -> RelaySettings:
    settings = RelaySettings(data_dir=tmp_path / "relay", database_url=url)
    settings.data_dir.mkdir(parents=True)
    return settings


@pytest.fixture
def sqlite_relay_db(tmp_path: Path) -> Iterator[RelayDb]:
    settings = _settings(tmp_path, None)
    url = settings.resolved_database_url()
    engine = create_db_engine(url)
    upgrade(engine)
    yield RelayDb(engine, url, settings)
    engine.dispose()


@pytest.fixture
def pg_relay_db(tmp_path: Path, pg_database_factory: object) -> Iterator[RelayDb]:
    make = pg_database_factory
    assert callable(make)
    url = make("relay", _migrate_relay)
    engine = create_db_engine(url)
    yield RelayDb(engine, url, _settings(tmp_path, url))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def relay_db(request: pytest.FixtureRequest) -> RelayDb:
    name = "sqlite_relay_db" if request.param == "sqlite" else "pg_relay_db"
    db = request.getfixturevalue(name)
    assert isinstance(db, RelayDb)
    return db
