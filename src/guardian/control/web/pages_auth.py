"""UI pages: sign in, sign out and the signed-in user's profile."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from guardian.common.api_errors import ApiError, Unauthorized
from guardian.common.db import utcnow
from guardian.control.api.deps import ContextDep
from guardian.control.auth.passwords import verify_password
from guardian.control.auth.schemas import LoginIn
from guardian.control.auth.users import get_user, update_user
from guardian.control.web.deps import (
    Csrf,
    WebPrincipal,
    WebRoute,
    end_session,
    issuer_of,
    start_session,
)
from guardian.control.web.forms import field, first_error
from guardian.control.web.render import render
from guardian.control.web.session import REFRESH_COOKIE

router = APIRouter(route_class=WebRoute, include_in_schema=False)


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path of this site only (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/login")
def login_page(request: Request) -> Response:
    next_ = safe_next(request.query_params.get("next"))
    return render(request, "login.html", next=next_, email="", error=None)


@router.post("/login", dependencies=[Csrf])
async def login_submit(request: Request, ctx: ContextDep) -> Response:
    form = await request.form()
    email, password = field(form, "email"), field(form, "password")
    next_ = safe_next(field(form, "next"))
    try:
        body = LoginIn(email=email, password=password)
        address = request.client.host if request.client else None
        pair = issuer_of(ctx).login(body.email, body.password, address)
    except ValidationError as exc:
        error, status = first_error(exc), 422
    except ApiError as exc:  # wrong password (401) or throttled (429)
        error, status = exc.message, exc.status
    else:
        start_session(request, pair)
        return RedirectResponse(next_, status_code=303)
    return render(request, "login.html", status=status, next=next_, email=email, error=error)


@router.post("/logout", dependencies=[Csrf])
def logout(request: Request, ctx: ContextDep) -> Response:
    """Revoke the session's refresh-token family and forget the cookies."""
    refresh = request.cookies.get(REFRESH_COOKIE)
    if refresh:
        issuer_of(ctx).logout(refresh)
    end_session(request)
    return RedirectResponse("/login?done=signed-out", status_code=303)


@router.get("/profile")
def profile(request: Request, ctx: ContextDep, principal: WebPrincipal) -> Response:
    with ctx.db.tenant(principal.tenant_id) as session:
        user = get_user(session, principal.tenant_id, principal.user_id)
        return render(request, "profile.html", active="profile", user=user, error=None)


@router.post("/profile", dependencies=[Csrf])
async def profile_submit(request: Request, ctx: ContextDep, principal: WebPrincipal) -> Response:
    """Change one's display name, or one's password (which ends every session)."""
    form = await request.form()
    new_password = field(form, "new_password")
    try:
        with ctx.db.tenant(principal.tenant_id) as session:
            user = get_user(session, principal.tenant_id, principal.user_id)
            if new_password:
                if not verify_password(user.password_hash, field(form, "current_password")):
                    raise Unauthorized("the current password is not right")
                update_user(
                    session, principal.tenant_id, user.id, password=new_password, now=utcnow()
                )
            else:
                name = field(form, "display_name").strip()[:128]
                update_user(session, principal.tenant_id, user.id, display_name=name)
    except ApiError as exc:  # nothing was changed: the transaction rolled back
        with ctx.db.tenant(principal.tenant_id) as session:
            user = get_user(session, principal.tenant_id, principal.user_id)
            return render(
                request, "profile.html", status=exc.status, active="profile", user=user,
                error=exc.message,
            )  # fmt: skip
    if new_password:
        end_session(request)
        return RedirectResponse("/login?done=password-changed", status_code=303)
    return RedirectResponse("/profile?done=profile-saved", status_code=303)
