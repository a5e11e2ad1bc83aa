"""event_feed: ids never handed out twice on SQLite (AUTOINCREMENT)

An ``event_feed`` id is the live stream's SSE event id, which a client sends back as
``Last-Event-ID``. Without AUTOINCREMENT SQLite gives a new row the highest id in the
table plus one, so once the newest rows are deleted (retention purging their events) their
ids came back, below or at a resuming client's cursor, and it missed those changes.
PostgreSQL's sequence never reuses an id: nothing to do there.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 10:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _rebuild(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    # SQLite cannot alter a table's rowid policy: batch mode copies it into a new table
    # (rows, ids and the index kept). Copied ids count as handed out, so AUTOINCREMENT
    # continues above the highest one present.
    kwargs = {"sqlite_autoincrement": autoincrement}
    with op.batch_alter_table("event_feed", recreate="always", table_kwargs=kwargs):
        pass


def upgrade() -> None:
    _rebuild(True)


def downgrade() -> None:
    _rebuild(False)
