"""External OIDC access tokens against a local JWKS server: the accepted and the refused."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from guardian.common.api_errors import Unauthorized
from guardian.control.app import create_app
from guardian.control.auth.principal import Principal, TokenVerifier
from guardian.control.context import ControlContext
from tests.control_helpers import make_tenant
from tests.integration.control.auth.conftest import Clock
from tests.integration.control.auth.jwks_server import Issuer, serve_issuer

AUDIENCE = "https://api.guardian.test"
TENANT_CLAIM, ROLE_CLAIM = "https://guardian/tenant_id", "https://guardian/role"


@dataclass
class Oidc:
    ctx: ControlContext
    issuer: Issuer
    client: TestClient
    clock: Clock

    @property
    def verifier(self) -> TokenVerifier:
        verifier = self.ctx.services["verifier"]
        return verifier  # type: ignore[no-any-return]

    def verify(self, token: str) -> Principal:
        return self.verifier.verify(token)

    def refused(self, token: str) -> str:
        with pytest.raises(Unauthorized) as caught:
            self.verify(token)
        assert caught.value.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')
        return caught.value.message


def _oidc(ctx: ControlContext) -> Iterator[Oidc]:
    with serve_issuer() as issuer:
        clock = Clock(time.time())
        ctx.clock = clock
        ctx.settings.auth.oidc_issuer = issuer.url
        ctx.settings.auth.oidc_audience = AUDIENCE
        with TestClient(create_app(ctx)) as client:
            yield Oidc(ctx, issuer, client, clock)


@pytest.fixture
def oidc(sqlite_control_ctx: ControlContext) -> Iterator[Oidc]:
    yield from _oidc(sqlite_control_ctx)


@pytest.fixture
def oidc_both(control_ctx: ControlContext) -> Iterator[Oidc]:
    yield from _oidc(control_ctx)


def _user_with_subject(ctx: ControlContext, tenant: str, role: str, subject: str) -> str:
    from guardian.control.auth.users import create_user

    with ctx.db.system() as session:
        user = create_user(
            session,
            tenant_id=tenant,
            email=f"{role}@ext.example",
            role=role,
            password=None,
            subject=subject,
        )
        return user.id


def test_a_valid_external_token_maps_to_the_user_with_that_subject(oidc_both: Oidc) -> None:
    oidc = oidc_both
    tenant = make_tenant(oidc.ctx)
    user_id = _user_with_subject(oidc.ctx, tenant, "viewer", "auth0|u1")
    token = oidc.issuer.token(oidc.issuer.claims(AUDIENCE, **{ROLE_CLAIM: "admin"}))
    principal = oidc.verify(token)
    # The stored role wins over a claim: Guardian's admins manage roles.
    assert (principal.user_id, principal.tenant_id, principal.role) == (user_id, tenant, "viewer")
    assert principal.issuer == oidc.issuer.url
    me = oidc.client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200, me.text
    assert me.json()["external"] is True


def test_an_unknown_subject_is_provisioned_from_the_tenant_and_role_claims(
    oidc_both: Oidc,
) -> None:
    oidc = oidc_both
    tenant = make_tenant(oidc.ctx)
    claims = oidc.issuer.claims(
        AUDIENCE, sub="auth0|new", **{TENANT_CLAIM: tenant, ROLE_CLAIM: "admin"}
    )
    first = oidc.verify(oidc.issuer.token(claims))
    again = oidc.verify(oidc.issuer.token(claims))
    assert first.tenant_id == tenant and first.role == "admin"
    assert again.user_id == first.user_id


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({}, "unknown user and no valid tenant/role claims"),
        ({ROLE_CLAIM: "root"}, "unknown user and no valid tenant/role claims"),
        ({TENANT_CLAIM: "no-such-tenant", ROLE_CLAIM: "viewer"}, "token names an unknown tenant"),
    ],
)
def test_an_unknown_subject_without_usable_claims_is_refused(
    oidc: Oidc, claims: dict[str, str], reason: str
) -> None:
    token = oidc.issuer.token(oidc.issuer.claims(AUDIENCE, sub="auth0|stranger", **claims))
    assert oidc.refused(token) == reason


@pytest.fixture
def known(oidc: Oidc) -> Oidc:
    _user_with_subject(oidc.ctx, make_tenant(oidc.ctx), "admin", "auth0|u1")
    return oidc


def test_wrong_audience_is_refused(known: Oidc) -> None:
    token = known.issuer.token(known.issuer.claims("https://other-api.test"))
    assert known.refused(token) == "token is for another audience"


def test_wrong_issuer_is_refused(known: Oidc) -> None:
    token = known.issuer.token(known.issuer.claims(AUDIENCE, iss="https://evil.example/"))
    assert known.refused(token) == "token is from an unknown issuer"


def test_expired_is_refused(known: Oidc) -> None:
    past = int(time.time()) - 3600
    token = known.issuer.token(known.issuer.claims(AUDIENCE, iat=past, exp=past + 60))
    assert known.refused(token) == "token has expired"


def test_not_yet_valid_is_refused(known: Oidc) -> None:
    token = known.issuer.token(known.issuer.claims(AUDIENCE, nbf=int(time.time()) + 600))
    assert known.refused(token) == "token is not valid yet"


def test_a_token_without_exp_is_refused(known: Oidc) -> None:
    token = known.issuer.token(known.issuer.claims(AUDIENCE, exp=None))
    assert known.refused(token) == "token has no exp claim"


def test_alg_none_is_refused(known: Oidc) -> None:
    token = known.issuer.unsigned(known.issuer.claims(AUDIENCE))
    assert known.refused(token) == "only RS256 tokens are accepted"


def test_hs256_signed_with_the_public_key_is_refused(known: Oidc) -> None:
    token = known.issuer.hs256_with_public_key(known.issuer.claims(AUDIENCE))
    assert known.refused(token) == "only RS256 tokens are accepted"


def test_a_forged_signature_is_refused(known: Oidc) -> None:
    known.issuer.add_key("evil", publish=False)
    forged = known.issuer.token(known.issuer.claims(AUDIENCE), kid="evil")
    header, payload, signature = forged.split(".")
    real_header = known.issuer.token(known.issuer.claims(AUDIENCE)).split(".")[0]
    assert known.refused(f"{real_header}.{payload}.{signature}") == (
        "token signature does not verify"
    )
    assert header


def test_refusals_reach_the_client_as_401_with_a_bearer_challenge(known: Oidc) -> None:
    token = known.issuer.token(known.issuer.claims("https://other-api.test"))
    got = known.client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
    assert got.status_code == 401
    assert got.json()["error"] == {
        "code": "invalid_token",
        "message": "token is for another audience",
    }
    assert got.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')


def test_an_unknown_kid_refetches_once_and_then_succeeds(known: Oidc) -> None:
    known.verify(known.issuer.token(known.issuer.claims(AUDIENCE)))
    assert known.issuer.fetches == 1
    known.clock.now += 31  # past the refetch rate limit, well inside the cache time
    known.issuer.add_key("k2")  # the issuer rotates
    principal = known.verify(known.issuer.token(known.issuer.claims(AUDIENCE), kid="k2"))
    assert principal.role == "admin"
    assert known.issuer.fetches == 2
    known.verify(known.issuer.token(known.issuer.claims(AUDIENCE), kid="k2"))
    assert known.issuer.fetches == 2  # cached


def test_refetching_on_unknown_kids_is_rate_limited(known: Oidc) -> None:
    known.verify(known.issuer.token(known.issuer.claims(AUDIENCE)))
    known.clock.now += 31
    known.issuer.add_key("forged", publish=False)
    for _ in range(3):
        token = known.issuer.token(known.issuer.claims(AUDIENCE), kid="forged")
        assert known.refused(token) == "token is signed with an unknown key"
    assert known.issuer.fetches == 2  # one refetch, then the limit holds
    known.issuer.add_key("k3")
    rotated = known.issuer.token(known.issuer.claims(AUDIENCE), kid="k3")
    assert known.refused(rotated) == "token is signed with an unknown key"
    known.clock.now += 31
    assert known.verify(rotated).role == "admin"
    assert known.issuer.fetches == 3


def test_the_jwks_is_fetched_again_after_the_cache_time(known: Oidc) -> None:
    token = known.issuer.token(known.issuer.claims(AUDIENCE))
    known.verify(token)
    known.clock.now += known.ctx.settings.auth.jwks_cache_seconds + 1
    known.issuer.published.remove("k1")  # the issuer retired the key
    assert known.refused(token) == "token is signed with an unknown key"
    assert known.issuer.fetches == 2
