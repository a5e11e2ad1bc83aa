"""What the control plane's migration tests share: the tables they write through, declared
lightly (not the ORM models, which follow the newest schema)."""

from __future__ import annotations

import sqlalchemy as sa

from guardian.common.db_types import UtcDateTime

TENANTS = sa.table(
    "tenants",
    sa.column("id"),
    sa.column("name"),
    sa.column("plan"),
    sa.column("created_at", UtcDateTime()),
)
