"""Fixtures of the control plane's integration tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from guardian.common.db import create_db_engine
from tests.pg import sqlalchemy_url


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on an empty SQLite file or PostgreSQL database, for the migration tests."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'control.db'}"
    else:
        url = sqlalchemy_url(str(request.getfixturevalue("pg_url")))
    engine = create_db_engine(url)
    yield engine
    engine.dispose()
