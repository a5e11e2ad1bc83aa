"""Relays and their assignment to tenants in the real store."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from guardian.common.api_errors import Conflict, NotFound
from guardian.control.api.deps import token_sha256
from guardian.control.context import ControlContext
from guardian.control.store.tables import Relay, RelayAssignment
from guardian.control.tenancy.relays import (
    assign_relay,
    assigned_relay_id,
    create_relay,
    find_relay,
    relay_serves,
    tenants_of,
)
from tests.control_helpers import make_tenant


def test_relay_token_is_shown_once_and_stored_as_sha256(control_ctx: ControlContext) -> None:
    with control_ctx.db.system() as s:
        relay, token = create_relay(s, name="eu-1", url="https://relay.example")
    with control_ctx.db.system() as s:
        stored = s.scalar(select(Relay.token_sha256).where(Relay.id == relay.id))
        assert stored == token_sha256(token) and token not in (stored or "")
        assert find_relay(s, "eu-1") is not None and find_relay(s, relay.id) is not None
        assert find_relay(s, "nope") is None
        with pytest.raises(Conflict):
            create_relay(s, name="eu-1", url="https://other.example")


def test_assignment_is_one_relay_per_tenant(control_ctx: ControlContext) -> None:
    tenant, other = make_tenant(control_ctx), make_tenant(control_ctx)
    with control_ctx.db.system() as s:
        first, _ = create_relay(s, name="r1", url="https://r1.example")
        second, _ = create_relay(s, name="r2", url="https://r2.example")
        assign_relay(s, tenant_id=tenant, relay_id=first.id)
        assign_relay(s, tenant_id=other, relay_id=first.id)
    with control_ctx.db.system() as s:
        assign_relay(s, tenant_id=tenant, relay_id=second.id)
    with control_ctx.db.system() as s:
        rows = s.execute(select(RelayAssignment.tenant_id, RelayAssignment.relay_id)).all()
        assert sorted(rows) == sorted([(tenant, second.id), (other, first.id)])
        assert relay_serves(s, second.id, tenant) and not relay_serves(s, first.id, tenant)
        assert tenants_of(s, first.id) == [other]
    with control_ctx.db.tenant(tenant) as s:
        assert assigned_relay_id(s, tenant) == second.id


def test_assigning_unknown_relay_or_tenant_fails(control_ctx: ControlContext) -> None:
    tenant = make_tenant(control_ctx)
    with control_ctx.db.system() as s:
        relay, _ = create_relay(s, name="r", url="https://r.example")
        with pytest.raises(NotFound, match="no relay"):
            assign_relay(s, tenant_id=tenant, relay_id="missing")
        with pytest.raises(NotFound, match="no tenant"):
            assign_relay(s, tenant_id="missing", relay_id=relay.id)
