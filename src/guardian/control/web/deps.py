"""Request plumbing of the web UI: the cookie session, CSRF checks, and the page route class.

``WebRoute`` wraps every UI handler: errors become HTML pages (a missing or expired
session becomes a redirect to the login page), and the response gets the session and
CSRF cookies the request changed, the UI's Content-Security-Policy and ``no-store``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.responses import RedirectResponse, Response

from guardian.common.api_errors import ApiError, Forbidden, Unauthorized
from guardian.control.api.auth import ISSUER
from guardian.control.api.deps import VERIFIER, ContextDep
from guardian.control.auth.issuer import BuiltinIssuer, TokenPair
from guardian.control.auth.principal import Principal, TokenVerifier
from guardian.control.context import ControlContext
from guardian.control.web import session as cookies
from guardian.control.web.security import ui_csp

logger = logging.getLogger(__name__)
REFRESH_SHARE = "web.refresh_share"  # ctx.services key of the RefreshShare


class LoginRequired(Unauthorized):
    """No valid session: the UI answers with a redirect to the login page."""

    code = "login_required"


class CsrfRejected(Forbidden):
    code = "csrf_rejected"


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"


def issuer_of(ctx: ControlContext) -> BuiltinIssuer:
    issuer = ctx.services[ISSUER]
    assert isinstance(issuer, BuiltinIssuer)
    return issuer


def refresh_share(ctx: ControlContext) -> cookies.RefreshShare:
    share = ctx.services.get(REFRESH_SHARE)
    if not isinstance(share, cookies.RefreshShare):
        share = ctx.services[REFRESH_SHARE] = cookies.RefreshShare(issuer_of(ctx).refresh)
    return share


def start_session(request: Request, pair: TokenPair) -> None:
    """Have the response store ``pair`` in the session cookies."""
    request.state.new_tokens = pair


def end_session(request: Request) -> None:
    """Have the response clear the session cookies."""
    request.state.clear_session = True


def _verify(verifier: TokenVerifier, token: str) -> Principal | None:
    try:
        return verifier.verify(token)
    except Unauthorized:
        return None


def web_principal(request: Request, ctx: ContextDep) -> Principal:
    """The signed-in user, refreshing an expired access token transparently.

    Raises ``LoginRequired`` (a redirect to the login page) without a usable session.
    """
    verifier: TokenVerifier | None = ctx.services.get(VERIFIER)
    if verifier is None:
        raise LoginRequired("sign-in is not configured")
    access = request.cookies.get(cookies.ACCESS_COOKIE)
    principal = _verify(verifier, access) if access else None
    refresh = request.cookies.get(cookies.REFRESH_COOKIE)
    if principal is None and refresh:
        try:
            pair = refresh_share(ctx).refresh(refresh)
        except Unauthorized:
            end_session(request)
            raise LoginRequired("your session has ended; please sign in again") from None
        principal = _verify(verifier, pair.access_token)
        if principal is not None:
            start_session(request, pair)
    if principal is None:
        if access or refresh:
            end_session(request)
        raise LoginRequired("please sign in")
    request.state.principal = principal
    return principal


WebPrincipal = Annotated[Principal, Depends(web_principal)]


def web_admin(principal: WebPrincipal) -> Principal:
    """Admins only: a viewer gets the 403 page."""
    if not principal.is_admin:
        raise Forbidden("this page is for admins")
    return principal


WebAdmin = Annotated[Principal, Depends(web_admin)]


def csrf_token(request: Request) -> str:
    """The request's CSRF token (a new one, set on the response, when it has none)."""
    existing = getattr(request.state, "csrf", None) or request.cookies.get(cookies.CSRF_COOKIE)
    if existing:
        request.state.csrf = existing
        return str(existing)
    token = cookies.new_csrf_token()
    request.state.csrf = request.state.csrf_new = token
    return token


async def check_csrf(request: Request) -> None:
    """Refuse a state-changing request whose CSRF token does not match its cookie (403)."""
    given = request.headers.get(cookies.CSRF_HEADER)
    if given is None:
        form = await request.form()
        value = form.get(cookies.CSRF_FIELD)
        given = value if isinstance(value, str) else None
    if not cookies.csrf_matches(request.cookies.get(cookies.CSRF_COOKIE), given):
        raise CsrfRejected("the form has expired or came from another site; reload and retry")


Csrf = Depends(check_csrf)


def allow_media_from(request: Request, *origins: str | None) -> None:
    """Let the page load media (clips, snapshots) from these origins."""
    found: set[str] = getattr(request.state, "media_origins", set())
    found.update(o for o in origins if o)
    request.state.media_origins = found


def finish(request: Request, response: Response) -> Response:
    """Apply the request's cookie changes and the UI's security headers to ``response``."""
    secure = is_https(request)
    state = request.state
    pair = getattr(state, "new_tokens", None)
    if isinstance(pair, TokenPair):
        ctx: ControlContext = request.app.state.ctx
        max_age = ctx.settings.auth.refresh_token_seconds
        cookies.set_session(response, pair, secure=secure, refresh_max_age=max_age)
    elif getattr(state, "clear_session", False):
        cookies.clear_session(response, secure=secure)
    new_csrf = getattr(state, "csrf_new", None)
    if new_csrf:
        cookies.set_csrf(response, new_csrf, secure=secure)
    response.headers["Content-Security-Policy"] = ui_csp(getattr(state, "media_origins", ()))
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


ErrorPage = Callable[[Request, int, str], Response]


class WebRoute(APIRoute):
    """A UI route: HTML error pages, login redirects, cookies and security headers."""

    error_page: ErrorPage | None = None  # set by the package (renders templates/error.html)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()
        render_error = WebRoute.error_page

        async def handler(request: Request) -> Response:
            try:
                response = await original(request)
            except LoginRequired:
                response = login_redirect(request)
            except ApiError as exc:
                assert render_error is not None
                response = render_error(request, exc.status, exc.message)
            except RequestValidationError:
                assert render_error is not None
                response = render_error(request, 422, "the request was not valid")
            return finish(request, response)

        return handler
