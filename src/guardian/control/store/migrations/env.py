"""Alembic environment of the control store."""

from __future__ import annotations

from guardian.common.migrations import run_env
from guardian.control.store.tables import Base

run_env(Base.metadata, "control")
