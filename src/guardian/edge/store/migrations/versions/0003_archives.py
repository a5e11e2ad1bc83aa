"""archives: the CID and size of events whose clip the relay holds sealed

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 08:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import guardian.common.db_types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "archives",
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("cid", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column(
            "archived_at", guardian.common.db_types.UtcDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_archives_event_id_events")
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_archives")),
    )


def downgrade() -> None:
    op.drop_table("archives")
