"""relays.public_url: where browsers reach a relay's HTTP media endpoint (clip playback)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 09:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("relays", schema=None) as batch_op:
        batch_op.add_column(sa.Column("public_url", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("relays", schema=None) as batch_op:
        batch_op.drop_column("public_url")
