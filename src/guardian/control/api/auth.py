"""Control plane API: the built-in issuer (login, refresh, logout) and its JWKS."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, FastAPI, Request, Response

from guardian.control.api.deps import VERIFIER, ContextDep
from guardian.control.api.errors_doc import errors
from guardian.control.auth.issuer import BuiltinIssuer
from guardian.control.auth.keys import KeyRing
from guardian.control.auth.schemas import Jwks, LoginIn, RefreshIn, TokenOut
from guardian.control.auth.verifier import Verifier
from guardian.control.context import ControlContext

router = APIRouter(tags=["auth"])
KEYRING, ISSUER = "keyring", "issuer"


def _issuer(ctx: ControlContext) -> BuiltinIssuer:
    issuer = ctx.services[ISSUER]
    assert isinstance(issuer, BuiltinIssuer)
    return issuer


@router.post(
    "/api/v1/auth/login",
    response_model=TokenOut,
    responses=errors(401, 422, 429),
    summary="Sign in with email and password (built-in issuer)",
)
def login(request: Request, ctx: ContextDep, body: Annotated[LoginIn, Body()]) -> TokenOut:
    """Returns a short-lived access token and a refresh token (rotated on every use).

    Repeated failures are throttled per account and per client address: 429 with
    ``Retry-After``.
    """
    address = request.client.host if request.client else None
    return TokenOut.of(_issuer(ctx).login(body.email, body.password, address))


@router.post(
    "/api/v1/auth/refresh",
    response_model=TokenOut,
    responses=errors(401, 422),
    summary="Exchange a refresh token for a new token pair",
)
def refresh(ctx: ContextDep, body: RefreshIn) -> TokenOut:
    """The refresh token is single-use; presenting a used one revokes its whole session."""
    return TokenOut.of(_issuer(ctx).refresh(body.refresh_token))


@router.post(
    "/api/v1/auth/logout",
    status_code=204,
    responses=errors(422),
    summary="Revoke a refresh token's session",
)
def logout(ctx: ContextDep, body: RefreshIn) -> Response:
    """Idempotent: an unknown or already revoked token also answers 204."""
    _issuer(ctx).logout(body.refresh_token)
    return Response(status_code=204)


@router.get("/.well-known/jwks.json", response_model=Jwks, summary="Public signing keys")
def jwks(ctx: ContextDep) -> Jwks:
    """The built-in issuer's RS256 public keys, including recently retired ones."""
    keyring = ctx.services[KEYRING]
    assert isinstance(keyring, KeyRing)
    return Jwks(keys=keyring.jwks()["keys"])


def install(app: FastAPI, ctx: ControlContext) -> None:
    """Put the key ring, the built-in issuer and the token verifier in ``ctx.services``."""
    settings = ctx.settings.auth
    grace = settings.access_token_seconds + settings.leeway_seconds
    keyring = ctx.services.get(KEYRING)
    if not isinstance(keyring, KeyRing):
        keyring = KeyRing(ctx.db, ctx.sealer, grace_seconds=grace, clock=ctx.clock)
        ctx.services[KEYRING] = keyring
    ctx.services[ISSUER] = BuiltinIssuer(ctx.db, keyring, settings, ctx.clock)
    if not isinstance(ctx.services.get(VERIFIER), Verifier):
        ctx.services[VERIFIER] = Verifier(ctx.db, settings, keyring, ctx.clock)
