"""The control store: migrations on both engines; on PostgreSQL, row-level security holds
even for a query that forgets its tenant filter."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from guardian.common.db import utcnow
from guardian.control.context import ControlContext
from guardian.control.store.tables import Site, Tenant


def _tenant(ctx: ControlContext, name: str) -> str:
    import uuid

    tid = str(uuid.uuid4())
    with ctx.db.system() as s:
        s.add(Tenant(id=tid, name=name, plan="free", created_at=utcnow()))
        s.flush()  # no ORM relationships: parents are flushed before children explicitly
        s.add(Site(id=str(uuid.uuid4()), tenant_id=tid, name=f"{name} shop", created_at=utcnow()))
    return tid


def test_tenant_sessions_see_only_their_rows(control_ctx: ControlContext) -> None:
    a, b = _tenant(control_ctx, "a"), _tenant(control_ctx, "b")
    with control_ctx.db.tenant(a) as s:
        names = set(s.scalars(select(Site.name).where(Site.tenant_id == a)))
    assert names == {"a shop"}
    with control_ctx.db.system() as s:
        assert s.scalar(select(func.count()).select_from(Site)) == 2
    assert b


def test_rls_hides_other_tenants_from_an_unfiltered_query(pg_control_ctx: ControlContext) -> None:
    ctx = pg_control_ctx
    a, b = _tenant(ctx, "a"), _tenant(ctx, "b")
    with ctx.db.tenant(a) as s:
        # No tenant filter on purpose: the policy must still confine the query.
        assert set(s.scalars(select(Site.name))) == {"a shop"}
        assert set(s.scalars(select(Tenant.id))) == {a}
    with pytest.raises(Exception, match="row-level security"), ctx.db.tenant(a) as s:
        s.add(Site(id="x", tenant_id=b, name="sneaky", created_at=utcnow()))
        s.flush()
