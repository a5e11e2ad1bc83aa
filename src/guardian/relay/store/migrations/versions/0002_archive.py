"""archive: blobs, archived events, tenant quotas, audit

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 08:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import guardian.common.db_types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_UTC = guardian.common.db_types.UtcDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "archive_audit",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("at", _UTC, nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("cid", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_archive_audit")),
    )
    op.create_table(
        "archive_events",
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("site_id", sa.String(length=36), nullable=False),
        sa.Column("cid", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("archived_at", _UTC, nullable=False),
        sa.Column("deleted_at", _UTC, nullable=True),
        sa.Column("reported_at", _UTC, nullable=True),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_archive_events")),
    )
    with op.batch_alter_table("archive_events", schema=None) as batch_op:
        batch_op.create_index("ix_archive_events_cid", ["tenant_id", "cid"], unique=False)
        batch_op.create_index("ix_archive_events_unreported", ["reported_at"], unique=False)
    op.create_table(
        "archive_objects",
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("cid", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("stored_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "cid", name=op.f("pk_archive_objects")),
    )
    op.create_table(
        "archive_quotas",
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("limit_bytes", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_archive_quotas")),
    )


def downgrade() -> None:
    op.drop_table("archive_quotas")
    op.drop_table("archive_objects")
    with op.batch_alter_table("archive_events", schema=None) as batch_op:
        batch_op.drop_index("ix_archive_events_unreported")
        batch_op.drop_index("ix_archive_events_cid")
    op.drop_table("archive_events")
    op.drop_table("archive_audit")
