"""UI page: the tenant's users (admins only): add, change role, disable and enable."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from guardian.common.api_errors import ApiError, Unprocessable
from guardian.common.db import utcnow
from guardian.control.api.deps import ContextDep
from guardian.control.auth.schemas import UserCreate, UserOut, UserUpdate
from guardian.control.auth.users import create_user, list_users, update_user
from guardian.control.web.deps import Csrf, WebAdmin, WebRoute
from guardian.control.web.forms import field, first_error
from guardian.control.web.render import render

router = APIRouter(route_class=WebRoute, include_in_schema=False)
UserId = Annotated[str, Path(max_length=36)]


@router.get("/users")
def users(request: Request, ctx: ContextDep, admin: WebAdmin) -> Response:
    with ctx.db.tenant(admin.tenant_id) as session:
        found = [UserOut.of(u) for u in list_users(session, admin.tenant_id)]
    return render(request, "users.html", active="users", users=found, error=None, form={})


@router.post("/users", dependencies=[Csrf])
async def add_user(request: Request, ctx: ContextDep, admin: WebAdmin) -> Response:
    form = await request.form()
    values = {k: field(form, k) for k in ("email", "role", "display_name")}
    try:
        body = UserCreate(
            email=values["email"],
            role=values["role"],  # validated by the schema
            password=field(form, "password") or None,
            display_name=values["display_name"].strip() or None,
        )
        with ctx.db.tenant(admin.tenant_id) as session:
            create_user(
                session, tenant_id=admin.tenant_id, email=body.email, role=body.role,
                password=body.password, display_name=body.display_name,
            )  # fmt: skip
    except (ValidationError, ApiError) as exc:
        message = first_error(exc) if isinstance(exc, ValidationError) else exc.message
        status = 422 if isinstance(exc, ValidationError) else exc.status
        with ctx.db.tenant(admin.tenant_id) as session:
            found = [UserOut.of(u) for u in list_users(session, admin.tenant_id)]
        return render(
            request, "users.html", status=status, active="users", users=found, error=message,
            form=values,
        )  # fmt: skip
    return RedirectResponse("/users?done=user-added", status_code=303)


@router.post("/users/{user_id}", dependencies=[Csrf])
async def change_user(
    request: Request, user_id: UserId, ctx: ContextDep, admin: WebAdmin
) -> Response:
    """Change a user's role or disable/enable them (the tenant keeps an active admin)."""
    form = await request.form()
    action = field(form, "action")
    try:
        if action == "role":
            patch = UserUpdate(role=field(form, "role"))
        elif action in ("disable", "enable"):
            patch = UserUpdate(disabled=action == "disable")
        else:
            raise Unprocessable("unknown change")
    except ValidationError as exc:
        raise Unprocessable(first_error(exc)) from None
    with ctx.db.tenant(admin.tenant_id) as session:
        update_user(
            session, admin.tenant_id, user_id, role=patch.role, disabled=patch.disabled,
            now=utcnow(),
        )  # fmt: skip
    return RedirectResponse(f"/users?done=user-saved#user-{user_id}", status_code=303)
