"""Control plane API: the relay serving the caller's tenant."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from sqlalchemy import select

from guardian.control.api.deps import ContextDep, PrincipalDep
from guardian.control.api.errors_doc import errors
from guardian.control.context import ControlContext
from guardian.control.store.tables import Relay, RelayAssignment
from guardian.control.tenancy.schemas import RelayList
from guardian.control.tenancy.views import now_of, relay_out

router = APIRouter(prefix="/api/v1", tags=["relays"], responses=errors(401))


@router.get("/relays", response_model=RelayList)
def get_relays(ctx: ContextDep, principal: PrincipalDep) -> RelayList:
    """The relay assigned to the caller's tenant (url, health, last seen); empty when none."""
    with ctx.db.tenant(principal.tenant_id) as session:
        assignment = session.scalar(
            select(RelayAssignment).where(RelayAssignment.tenant_id == principal.tenant_id)
        )
    if assignment is None:
        return RelayList(relays=[])
    # Relays are not tenant rows: read the assigned one with the system session (after the
    # tenant transaction ends: SQLite has one writer at a time).
    with ctx.db.system() as system:
        relay = system.get(Relay, assignment.relay_id)
    if relay is None:
        return RelayList(relays=[])
    return RelayList(relays=[relay_out(relay, assignment, now_of(ctx))])


def install(app: FastAPI, ctx: ControlContext) -> None:
    """Nothing to attach: the routes use the shared dependencies."""
