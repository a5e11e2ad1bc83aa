"""Alembic environment of the relay store."""

from __future__ import annotations

from guardian.common.migrations import run_env
from guardian.relay.store.tables import Base

run_env(Base.metadata, "relay")
