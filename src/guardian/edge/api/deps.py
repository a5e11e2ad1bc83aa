"""FastAPI dependencies of the edge API (``Annotated`` aliases used by the routes)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from guardian.edge.context import EdgeContext
from guardian.edge.errors import Unauthorized
from guardian.edge.store.tokens import token_is_valid


async def get_context(request: Request) -> EdgeContext:
    """The app's ``EdgeContext`` (async: a plain attribute read needs no worker thread)."""
    ctx = request.app.state.ctx
    assert isinstance(ctx, EdgeContext)
    return ctx


ContextDep = Annotated[EdgeContext, Depends(get_context)]


def get_session(ctx: ContextDep) -> Iterator[Session]:
    with ctx.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def require_admin(request: Request, session: SessionDep) -> None:
    """``Authorization: Bearer <admin token>`` (from ``guardian edge token create``)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(
            "missing bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not token_is_valid(session, token.strip()):
        raise Unauthorized("invalid or revoked token", headers={"WWW-Authenticate": "Bearer"})


AdminDep = Depends(require_admin)
