"""Control plane fixtures: a migrated store on SQLite and on PostgreSQL, and its context.

``control_ctx`` is parametrised over both engines (a test using it runs twice); use
``sqlite_control_ctx`` or ``pg_control_ctx`` for one engine only. On PostgreSQL the
database is a clone of a migrated template, with the row-level security policies.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from guardian.common.db import create_db_engine
from guardian.control.config import ControlSettings
from guardian.control.context import ControlContext, build_context
from guardian.control.store.schema import upgrade


def migrate_control(url: str) -> None:
    engine = create_db_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()


def control_settings(tmp_path: Path, url: str | None = None, **extra: object) -> ControlSettings:
    """Settings with a fresh data dir under ``tmp_path`` (and ``url`` if given)."""
    return ControlSettings(data_dir=tmp_path / "control", database_url=url, **extra)  # type: ignore[arg-type]


@pytest.fixture
def sqlite_control_ctx(tmp_path: Path) -> Iterator[ControlContext]:
    ctx = build_context(control_settings(tmp_path))
    yield ctx
    ctx.db.dispose()


@pytest.fixture
def pg_control_ctx(tmp_path: Path, pg_database_factory: object) -> Iterator[ControlContext]:
    make = pg_database_factory
    assert callable(make)
    url = make("control", migrate_control)
    ctx = build_context(control_settings(tmp_path, url))
    yield ctx
    ctx.db.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def control_ctx(request: pytest.FixtureRequest) -> ControlContext:
    name = "sqlite_control_ctx" if request.param == "sqlite" else "pg_control_ctx"
    ctx = request.getfixturevalue(name)
    assert isinstance(ctx, ControlContext)
    return ctx
