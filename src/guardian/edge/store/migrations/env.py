"""Alembic environment of the edge store."""

from __future__ import annotations

from guardian.common.migrations import run_env
from guardian.edge.store.tables import Base

run_env(Base.metadata, "edge")
