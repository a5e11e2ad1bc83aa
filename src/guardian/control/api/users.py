"""Control plane API: the users of the caller's tenant (admins manage, everyone sees /me)."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Response

from guardian.common.db import utcnow
from guardian.control.api.deps import AdminDep, PrincipalDep, TenantSessionDep, require_admin
from guardian.control.api.errors_doc import errors
from guardian.control.auth.schemas import UserCreate, UserList, UserOut, UserUpdate
from guardian.control.auth.users import (
    create_user,
    delete_user,
    get_user,
    list_users,
    update_user,
)
from guardian.control.context import ControlContext

router = APIRouter(tags=["users"])


@router.get(
    "/api/v1/users/me", response_model=UserOut, responses=errors(401, 403), summary="The caller"
)
def me(principal: PrincipalDep, session: TenantSessionDep) -> UserOut:
    return UserOut.of(get_user(session, principal.tenant_id, principal.user_id))


@router.get(
    "/api/v1/users", response_model=UserList, responses=errors(401, 403), summary="List users"
)
def list_(admin: AdminDep, session: TenantSessionDep) -> UserList:
    """The users of the caller's tenant (admins only)."""
    return UserList(users=[UserOut.of(u) for u in list_users(session, admin.tenant_id)])


@router.post(
    "/api/v1/users",
    status_code=201,
    response_model=UserOut,
    responses=errors(401, 403, 409, 422),
    summary="Add a user",
)
def create(admin: AdminDep, session: TenantSessionDep, body: UserCreate) -> UserOut:
    """Adds a user to the caller's tenant; 409 if the email is taken."""
    user = create_user(
        session,
        tenant_id=admin.tenant_id,
        email=body.email,
        role=body.role,
        password=body.password,
        display_name=body.display_name,
    )
    return UserOut.of(user)


@router.get(
    "/api/v1/users/{user_id}",
    response_model=UserOut,
    responses=errors(401, 403, 404),
    summary="One user",
)
def get(user_id: str, principal: PrincipalDep, session: TenantSessionDep) -> UserOut:
    # Look up first: another tenant's id is 404 for everyone, never a 403 that confirms it.
    user = get_user(session, principal.tenant_id, user_id)
    require_admin(principal)
    return UserOut.of(user)


@router.patch(
    "/api/v1/users/{user_id}",
    response_model=UserOut,
    responses=errors(401, 403, 404, 409, 422),
    summary="Change a user's role, name, password or disable them",
)
def patch(
    user_id: str, principal: PrincipalDep, session: TenantSessionDep, body: UserUpdate
) -> UserOut:
    """409 when the change would leave the tenant without an active admin."""
    get_user(session, principal.tenant_id, user_id)  # 404 before 403 (see ``get``)
    admin = require_admin(principal)
    user = update_user(
        session,
        admin.tenant_id,
        user_id,
        role=body.role,
        disabled=body.disabled,
        display_name=body.display_name,
        password=body.password,
        now=utcnow(),
    )
    return UserOut.of(user)


@router.delete(
    "/api/v1/users/{user_id}",
    status_code=204,
    responses=errors(401, 403, 404, 409),
    summary="Remove a user",
)
def remove(user_id: str, principal: PrincipalDep, session: TenantSessionDep) -> Response:
    """409 for the tenant's last active admin."""
    get_user(session, principal.tenant_id, user_id)  # 404 before 403 (see ``get``)
    admin = require_admin(principal)
    delete_user(session, admin.tenant_id, user_id, utcnow())
    return Response(status_code=204)


def install(app: FastAPI, ctx: ControlContext) -> None:
    """Nothing to attach: the routes use the verifier the auth module installs."""
