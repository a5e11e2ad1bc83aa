"""The built-in issuer through the API: login, throttling, refresh rotation, logout."""

from __future__ import annotations

import logging
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient

from guardian.control.context import ControlContext
from tests.control_helpers import PASSWORD, make_tenant, make_user
from tests.integration.control.auth.conftest import AuthApp

LOGIN, REFRESH, LOGOUT, ME = (
    "/api/v1/auth/login",
    "/api/v1/auth/refresh",
    "/api/v1/auth/logout",
    "/api/v1/users/me",
)


def _login(client: TestClient, email: str, password: str = PASSWORD) -> Any:  # a Response
    return client.post(LOGIN, json={"email": email, "password": password})


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _user(ctx: ControlContext, role: str = "admin") -> tuple[str, str, str]:
    tenant = make_tenant(ctx)
    user_id, email = make_user(ctx, tenant, role)
    return tenant, user_id, email


def test_login_issues_rs256_tokens_the_api_accepts(auth_app: AuthApp) -> None:
    ctx, client = auth_app.ctx, auth_app.client
    tenant, user_id, email = _user(ctx, "viewer")
    got = _login(client, f"  {email.upper()} ")
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == ctx.settings.auth.access_token_seconds
    header = jwt.get_unverified_header(body["access_token"])
    assert header["alg"] == "RS256"
    jwks = client.get("/.well-known/jwks.json").json()
    assert [k["kid"] for k in jwks["keys"]] == [header["kid"]]
    assert "d" not in jwks["keys"][0]  # public parts only
    claims = jwt.decode(
        body["access_token"],
        jwt.PyJWK(jwks["keys"][0]).key,
        algorithms=["RS256"],
        audience=ctx.settings.auth.audience,
        issuer=ctx.settings.auth.issuer,
    )
    assert (claims["sub"], claims["tid"], claims["role"]) == (user_id, tenant, "viewer")
    assert claims["exp"] - claims["iat"] == ctx.settings.auth.access_token_seconds
    me = client.get(ME, headers=_bearer(body["access_token"]))
    assert me.status_code == 200, me.text
    assert me.json()["id"] == user_id


def test_wrong_password_and_unknown_email_get_the_same_answer(auth_app: AuthApp) -> None:
    _tenant, _user_id, email = _user(auth_app.ctx)
    wrong = _login(auth_app.client, email, "not the password at all")
    unknown = _login(auth_app.client, "nobody@example.com")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["error"]["message"] == "invalid email or password"


def test_failures_throttle_the_account_from_any_address(auth_app: AuthApp) -> None:
    _tenant, _user_id, email = _user(auth_app.ctx)
    for _ in range(2):  # login_max_failures = 2
        assert _login(auth_app.client, email, "wrong password!!").status_code == 401
    throttled = _login(auth_app.client_from("10.0.0.2"), email)  # right password, new address
    assert throttled.status_code == 429
    assert throttled.json()["error"]["code"] == "login_throttled"
    window = auth_app.ctx.settings.auth.login_window_seconds
    assert 0 < int(throttled.headers["Retry-After"]) <= window
    auth_app.clock.now += window + 1
    assert _login(auth_app.client, email).status_code == 200


def test_failures_throttle_the_address_across_accounts(auth_app: AuthApp) -> None:
    ctx = auth_app.ctx
    tenant = make_tenant(ctx)
    _uid, victim = make_user(ctx, tenant)
    for i in range(8):  # 4 x login_max_failures, spread so no account is throttled
        assert _login(auth_app.client, f"guess{i}@example.com").status_code == 401
    from_same = _login(auth_app.client, victim)
    assert from_same.status_code == 429
    assert int(from_same.headers["Retry-After"]) > 0
    assert _login(auth_app.client_from("10.0.0.9"), victim).status_code == 200


def test_a_successful_login_clears_the_account_failures(auth_app: AuthApp) -> None:
    _tenant, _user_id, email = _user(auth_app.ctx)
    assert _login(auth_app.client, email, "wrong password!!").status_code == 401
    assert _login(auth_app.client, email).status_code == 200
    assert _login(auth_app.client, email, "wrong password!!").status_code == 401
    assert _login(auth_app.client, email).status_code == 200


def test_refresh_rotates_and_the_new_pair_works(auth_app: AuthApp) -> None:
    _tenant, user_id, email = _user(auth_app.ctx)
    first = _login(auth_app.client, email).json()
    second = auth_app.client.post(REFRESH, json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200, second.text
    pair = second.json()
    assert pair["refresh_token"] != first["refresh_token"]
    assert pair["access_token"] != first["access_token"]
    assert auth_app.client.get(ME, headers=_bearer(pair["access_token"])).json()["id"] == user_id
    third = auth_app.client.post(REFRESH, json={"refresh_token": pair["refresh_token"]})
    assert third.status_code == 200, third.text


def test_reusing_a_refresh_token_revokes_the_whole_family(auth_app: AuthApp) -> None:
    _tenant, _user_id, email = _user(auth_app.ctx)
    stolen = _login(auth_app.client, email).json()["refresh_token"]
    rotated = auth_app.client.post(REFRESH, json={"refresh_token": stolen}).json()
    reuse = auth_app.client.post(REFRESH, json={"refresh_token": stolen})
    assert reuse.status_code == 401
    assert reuse.json()["error"]["code"] == "invalid_refresh_token"
    latest = auth_app.client.post(REFRESH, json={"refresh_token": rotated["refresh_token"]})
    assert latest.status_code == 401  # the owner's live token died with the family
    other_session = _login(auth_app.client, email).json()["refresh_token"]
    assert auth_app.client.post(REFRESH, json={"refresh_token": other_session}).status_code == 200


def test_refresh_tokens_expire(auth_app: AuthApp) -> None:
    _tenant, _user_id, email = _user(auth_app.ctx)
    token = _login(auth_app.client, email).json()["refresh_token"]
    auth_app.clock.now += auth_app.ctx.settings.auth.refresh_token_seconds + 1
    assert auth_app.client.post(REFRESH, json={"refresh_token": token}).status_code == 401


def test_logout_revokes_the_session_and_is_idempotent(auth_app: AuthApp) -> None:
    _tenant, _user_id, email = _user(auth_app.ctx)
    token = _login(auth_app.client, email).json()["refresh_token"]
    assert auth_app.client.post(LOGOUT, json={"refresh_token": token}).status_code == 204
    assert auth_app.client.post(LOGOUT, json={"refresh_token": token}).status_code == 204
    assert auth_app.client.post(LOGOUT, json={"refresh_token": "unknown"}).status_code == 204
    assert auth_app.client.post(REFRESH, json={"refresh_token": token}).status_code == 401


def test_access_tokens_expire_with_a_bearer_challenge(auth_app: AuthApp) -> None:
    _tenant, _user_id, email = _user(auth_app.ctx)
    access = _login(auth_app.client, email).json()["access_token"]
    settings = auth_app.ctx.settings.auth
    auth_app.clock.now += settings.access_token_seconds + settings.leeway_seconds + 1
    got = auth_app.client.get(ME, headers=_bearer(access))
    assert got.status_code == 401
    assert got.json()["error"]["message"] == "token has expired"
    assert got.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')


def test_a_disabled_user_is_locked_out_at_once(auth_app: AuthApp) -> None:
    ctx = auth_app.ctx
    tenant = make_tenant(ctx)
    _admin_id, admin_email = make_user(ctx, tenant, "admin")
    user_id, email = make_user(ctx, tenant, "viewer")
    admin = _bearer(_login(auth_app.client, admin_email).json()["access_token"])
    pair = _login(auth_app.client, email).json()
    disabled = auth_app.client.patch(
        f"/api/v1/users/{user_id}", json={"disabled": True}, headers=admin
    )
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["disabled"] is True
    refused = auth_app.client.get(ME, headers=_bearer(pair["access_token"]))
    assert refused.status_code == 401
    assert refused.json()["error"]["message"] == "user is disabled"
    assert (
        auth_app.client.post(REFRESH, json={"refresh_token": pair["refresh_token"]}).status_code
        == 401
    )
    assert _login(auth_app.client, email).status_code == 401


def test_logs_carry_no_passwords_or_tokens(
    auth_app: AuthApp, caplog: pytest.LogCaptureFixture
) -> None:
    _tenant, _user_id, email = _user(auth_app.ctx)
    caplog.set_level(logging.DEBUG)
    _login(auth_app.client, email, "a wrong password 123")
    pair = _login(auth_app.client, email).json()
    reused = pair["refresh_token"]
    auth_app.client.post(REFRESH, json={"refresh_token": reused})
    auth_app.client.post(REFRESH, json={"refresh_token": reused})
    assert caplog.records, "the auth flow should log something"
    secrets = [PASSWORD, "a wrong password 123", pair["access_token"], reused]
    for record in caplog.records:
        text = record.getMessage() + repr(record.__dict__)
        assert not any(secret in text for secret in secrets), record
