"""Control plane database sessions: a system session and tenant-scoped sessions.

A tenant session is a transaction that, on PostgreSQL, switches to the API role (which
does not own the tables, so row-level security applies) and sets ``guardian.tenant_id``:
a query that forgets its tenant filter still sees only that tenant's rows. On SQLite the
repositories' filters are the only scoping (the documented fallback).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from guardian.common.db import session_factory

TENANT_SETTING = "guardian.tenant_id"


class Database:
    """Sessions of the control plane store."""

    def __init__(self, engine: Engine, app_role: str = "guardian_app") -> None:
        if not app_role.replace("_", "").isalnum():
            raise ValueError(f"invalid role name {app_role!r}")
        self.engine = engine
        self.app_role = app_role
        self.sessions: sessionmaker[Session] = session_factory(engine)

    @property
    def postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    @contextmanager
    def system(self) -> Iterator[Session]:
        """A transaction with the owner's rights (CLI, login lookups, relay ingest routing)."""
        with self.sessions.begin() as session:
            yield session

    @contextmanager
    def tenant(self, tenant_id: str) -> Iterator[Session]:
        """A transaction confined to ``tenant_id`` (RLS on PostgreSQL)."""
        with self.sessions.begin() as session:
            if self.postgres:
                # One round trip: ``set_config('role', …, true)`` is SET LOCAL ROLE.
                session.execute(
                    select(
                        text("set_config('role', :role, true), set_config(:name, :value, true)")
                    ),
                    {"role": self.app_role, "name": TENANT_SETTING, "value": tenant_id},
                )
            yield session
