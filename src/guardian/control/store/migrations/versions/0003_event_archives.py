"""event_archives: the CID and size of archived events (row-level security on PostgreSQL)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

import guardian.common.db_types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

DEFAULT_APP_ROLE = "guardian_app"  # as in 0002
SETTING = "guardian.tenant_id"


def _role() -> str:
    role = str(context.config.attributes.get("app_role", DEFAULT_APP_ROLE))
    if not role.replace("_", "").isalnum():
        raise ValueError(f"invalid role name {role!r}")
    return role


def upgrade() -> None:
    op.create_table(
        "event_archives",
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("cid", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column(
            "archived_at", guardian.common.db_types.UtcDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_event_archives")),
    )
    with op.batch_alter_table("event_archives", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_event_archives_tenant_id"), ["tenant_id"], unique=False
        )
    if op.get_bind().dialect.name != "postgresql":
        return
    role = _role()
    current = f"current_setting('{SETTING}', true)"
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON event_archives TO {role}")
    op.execute("ALTER TABLE event_archives ENABLE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON event_archives TO {role} "
        f"USING (tenant_id = {current}) WITH CHECK (tenant_id = {current})"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP POLICY IF EXISTS tenant_isolation ON event_archives")
    with op.batch_alter_table("event_archives", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_archives_tenant_id"))
    op.drop_table("event_archives")
