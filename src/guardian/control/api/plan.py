"""Control plane API: the caller's tenant's plan, quotas and usage."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from guardian.control.api.deps import PrincipalDep, TenantSessionDep
from guardian.control.api.errors_doc import errors
from guardian.control.context import ControlContext
from guardian.control.tenancy.plans import plan_of, usage
from guardian.control.tenancy.schemas import PlanOut, PlanQuotas, PlanUsage

router = APIRouter(prefix="/api/v1", tags=["plan"], responses=errors(401))


@router.get("/plan", response_model=PlanOut)
def get_plan(principal: PrincipalDep, session: TenantSessionDep) -> PlanOut:
    """The tenant's plan with its quotas (null: unlimited) and what it uses now."""
    plan = plan_of(session, principal.tenant_id)
    used = usage(session, principal.tenant_id)
    return PlanOut(
        name=plan.name,
        quotas=PlanQuotas.model_validate(plan.as_dict()["quotas"]),
        usage=PlanUsage.model_validate(used),
    )


def install(app: FastAPI, ctx: ControlContext) -> None:
    """Nothing to attach: the routes use the shared dependencies."""
