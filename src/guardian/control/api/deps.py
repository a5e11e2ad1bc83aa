"""FastAPI dependencies of the control plane (``Annotated`` aliases used by the routes).

The cheap ones are ``async``: FastAPI runs a plain ``def`` dependency in a worker thread,
and a thread hop per dependency is a large part of a fast request. The access token is
checked on the event loop only when the verifier has just verified it (a dict look-up);
otherwise verification (RS256 signature, user read) runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from guardian.common.api_errors import Forbidden, Unauthorized
from guardian.control.auth.principal import Principal, RelayPrincipal, TokenVerifier
from guardian.control.context import ControlContext
from guardian.control.store.tables import Relay

VERIFIER = "verifier"  # ctx.services key of the TokenVerifier
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


async def get_context(request: Request) -> ControlContext:
    """The app's ``ControlContext``."""
    ctx = request.app.state.ctx
    assert isinstance(ctx, ControlContext)
    return ctx


ContextDep = Annotated[ControlContext, Depends(get_context)]


def bearer_token(request: Request) -> str:
    """The ``Authorization: Bearer`` token, or 401."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("missing bearer token", headers=_CHALLENGE)
    return token.strip()


async def current_principal(request: Request, ctx: ContextDep) -> Principal:
    """The verified user behind the request's access token (401 otherwise)."""
    verifier: TokenVerifier | None = ctx.services.get(VERIFIER)
    if verifier is None:
        raise Unauthorized("no token verifier is configured", headers=_CHALLENGE)
    token = bearer_token(request)
    principal = verifier.cached(token)
    if principal is None:
        principal = await run_in_threadpool(verifier.verify, token)
    else:
        refresh_in_background(verifier, token)
    request.state.principal = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def refresh_in_background(verifier: TokenVerifier, token: str) -> None:
    """Verify a cached token again in a worker thread near the end of its cache entry's
    life, so a token in steady use is never verified while a request waits.
    """
    if verifier.refresh_due(token):
        asyncio.get_running_loop().run_in_executor(None, verifier.refresh, token)


def require_admin(principal: PrincipalDep) -> Principal:
    """Admins only (403 for a viewer of the same tenant)."""
    if not principal.is_admin:
        raise Forbidden("this needs the admin role")
    return principal


async def _admin(principal: PrincipalDep) -> Principal:
    return require_admin(principal)


AdminDep = Annotated[Principal, Depends(_admin)]


def tenant_session(ctx: ContextDep, principal: PrincipalDep) -> Iterator[Session]:
    """A transaction confined to the caller's tenant (row-level security on PostgreSQL)."""
    with ctx.db.tenant(principal.tenant_id) as session:
        yield session


TenantSessionDep = Annotated[Session, Depends(tenant_session)]


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def current_relay(request: Request, ctx: ContextDep) -> RelayPrincipal:
    """The relay whose token (from ``guardian control relay add``) signs the request."""
    digest = token_sha256(bearer_token(request))
    with ctx.db.system() as session:
        row = session.execute(
            select(Relay.id, Relay.name).where(Relay.token_sha256 == digest)
        ).first()
    if row is None:
        raise Unauthorized("unknown relay token", headers=_CHALLENGE)
    return RelayPrincipal(relay_id=row.id, name=row.name)


RelayDep = Annotated[RelayPrincipal, Depends(current_relay)]
