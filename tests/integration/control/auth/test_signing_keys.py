"""Signing-key rotation: new tokens use the new key, old ones verify until they expire."""

from __future__ import annotations

import datetime as dt

import jwt

from guardian.control.auth.keys import rotate_signing_key
from tests.control_helpers import PASSWORD, make_tenant, make_user
from tests.integration.control.auth.conftest import AuthApp


def _access(app: AuthApp, email: str) -> str:
    got = app.client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert got.status_code == 200, got.text
    return str(got.json()["access_token"])


def test_rotation_publishes_both_keys_until_the_old_tokens_expire(auth_app: AuthApp) -> None:
    ctx = auth_app.ctx
    _uid, email = make_user(ctx, make_tenant(ctx))
    old = _access(auth_app, email)
    now = dt.datetime.fromtimestamp(auth_app.clock.now, dt.UTC)
    with ctx.db.system() as session:
        new_kid = rotate_signing_key(session, ctx.sealer, now)
    new = _access(auth_app, email)
    assert jwt.get_unverified_header(new)["kid"] == new_kid
    old_kid = jwt.get_unverified_header(old)["kid"]
    kids = [k["kid"] for k in auth_app.client.get("/.well-known/jwks.json").json()["keys"]]
    assert kids == [new_kid, old_kid]
    for token in (old, new):
        me = auth_app.client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200, me.text
    settings = ctx.settings.auth
    auth_app.clock.now += settings.access_token_seconds + settings.leeway_seconds + 1
    kids = [k["kid"] for k in auth_app.client.get("/.well-known/jwks.json").json()["keys"]]
    assert kids == [new_kid]


def test_a_token_signed_by_an_unpublished_key_is_refused(auth_app: AuthApp) -> None:
    from cryptography.hazmat.primitives.asymmetric import rsa

    ctx = auth_app.ctx
    user_id, email = make_user(ctx, tenant := make_tenant(ctx))
    kid = jwt.get_unverified_header(_access(auth_app, email))["kid"]
    now = int(auth_app.clock.now)
    claims = {
        "iss": ctx.settings.auth.issuer,
        "aud": ctx.settings.auth.audience,
        "sub": user_id,
        "tid": tenant,
        "role": "admin",
        "iat": now,
        "exp": now + 60,
    }
    rogue = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for header in ({"kid": kid}, {"kid": "made-up"}):
        token = jwt.encode(claims, rogue, algorithm="RS256", headers=header)
        got = auth_app.client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
        assert got.status_code == 401, header
