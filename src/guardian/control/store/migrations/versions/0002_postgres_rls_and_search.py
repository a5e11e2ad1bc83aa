"""PostgreSQL only: the API role, row-level security per tenant, trigram search

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 05:50:00
"""

from __future__ import annotations

from alembic import context, op

from guardian.control.store.tables import TENANT_TABLES

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# The role API sessions switch to (``SET LOCAL ROLE``): it does not own the tables, so
# the policies below apply to it. Overridable through the Alembic config attributes.
DEFAULT_APP_ROLE = "guardian_app"
SETTING = "guardian.tenant_id"


def _role() -> str:
    role = str(context.config.attributes.get("app_role", DEFAULT_APP_ROLE))
    if not role.replace("_", "").isalnum():
        raise ValueError(f"invalid role name {role!r}")
    return role


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return  # SQLite: tenant scoping is the repositories' job alone; search uses LIKE
    role = _role()
    # Bandit B608: role is checked by _role() to be [A-Za-z0-9_]+; no user input reaches it.
    op.execute(
        f"""
        DO $$ BEGIN
          IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN
            CREATE ROLE {role} NOLOGIN;
          END IF;
        -- Roles are cluster-wide: another database's migration may create it meanwhile.
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END $$;
        """  # nosec B608
    )
    op.execute(f"GRANT USAGE ON SCHEMA public TO {role}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}")
    op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}")
    current = f"current_setting('{SETTING}', true)"
    for table in TENANT_TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY tenant_isolation ON {table} TO {role} "
            f"USING (tenant_id = {current}) WITH CHECK (tenant_id = {current})"
        )
    op.execute("ALTER TABLE tenants ENABLE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON tenants TO {role} "
        f"USING (id = {current}) WITH CHECK (id = {current})"
    )
    # Tables outside tenancy (relays, signing keys, login failures) stay readable by the
    # owner only: API sessions reach them through the system session, never as the role.
    op.execute(f"REVOKE ALL ON relays, signing_keys, login_failures FROM {role}")
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute("CREATE INDEX ix_events_search_trgm ON events USING gin (search_text gin_trgm_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_events_search_trgm")
    for table in (*TENANT_TABLES, "tenants"):
        op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
