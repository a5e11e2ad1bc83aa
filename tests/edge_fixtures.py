"""Edge store fixtures: a migrated edge database on SQLite and on PostgreSQL.

``edge_db`` is parametrised over both engines, so a test using it runs twice; use
``sqlite_edge_db`` or ``pg_edge_db`` for one engine only. Each yields an ``EdgeDb``
with the engine, its URL and an ``EdgeSettings`` whose data dir is a fresh tmp dir.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine

from guardian.common.db import create_db_engine, sqlite_url
from guardian.edge.config import EdgeSettings
from guardian.edge.store.schema import upgrade


@dataclass
class EdgeDb:
    """A migrated edge database for one test."""

    engine: Engine
    url: str
    settings: EdgeSettings

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name


def _migrate_edge(url: str) -> None:
    engine = create_db_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()


def _settings(tmp_path: Path, url: str | None) -> EdgeSettings:
    return EdgeSettings(data_dir=tmp_path / "edge", database_url=url)


@pytest.fixture
def sqlite_edge_db(tmp_path: Path) -> Iterator[EdgeDb]:
    settings = _settings(tmp_path, None)
    settings.data_dir.mkdir(parents=True)
    url = sqlite_url(settings.data_dir / "edge.db")
    engine = create_db_engine(url)
    upgrade(engine)
    yield EdgeDb(engine, url, settings)
    engine.dispose()


@pytest.fixture
def pg_edge_db(tmp_path: Path, pg_database_factory: object) -> Iterator[EdgeDb]:
    make = pg_database_factory
    assert callable(make)
    url = make("edge", _migrate_edge)
    engine = create_db_engine(url)
    settings = _settings(tmp_path, url)
    settings.data_dir.mkdir(parents=True)
    yield EdgeDb(engine, url, settings)
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def edge_db(request: pytest.FixtureRequest) -> EdgeDb:
    name = "sqlite_edge_db" if request.param == "sqlite" else "pg_edge_db"
    db = request.getfixturevalue(name)
    assert isinstance(db, EdgeDb)
    return db
