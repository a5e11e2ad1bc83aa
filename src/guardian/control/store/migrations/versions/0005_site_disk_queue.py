"""sites: the edge's disk space, capture job queue and outbox figures from its telemetry

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# Nullable: null until the site's relay reports the figure (older relays never do).
COLUMNS = ("disk_free_bytes", "disk_total_bytes", "queue_depth", "dead_jobs", "outbox_depth")


def upgrade() -> None:
    with op.batch_alter_table("sites", schema=None) as batch_op:
        for name in COLUMNS:
            batch_op.add_column(sa.Column(name, sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sites", schema=None) as batch_op:
        for name in reversed(COLUMNS):
            batch_op.drop_column(name)
