"""What the control plane's migration tests share: an empty database of either kind, and
the lightweight tables they write through (no ORM models: those follow the newest schema)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine

from guardian.common.db import create_db_engine
from guardian.common.db_types import UtcDateTime
from tests.pg import sqlalchemy_url

TENANTS = sa.table(
    "tenants",
    sa.column("id"),
    sa.column("name"),
    sa.column("plan"),
    sa.column("created_at", UtcDateTime()),
)


def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on an empty SQLite file or PostgreSQL database (``request.param``)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'control.db'}"
    else:
        url = sqlalchemy_url(str(request.getfixturevalue("pg_url")))
    engine = create_db_engine(url)
    yield engine
    engine.dispose()
