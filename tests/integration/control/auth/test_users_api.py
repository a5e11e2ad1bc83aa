"""The users API: admins manage their tenant's users, viewers only see themselves, another
tenant's user answers 404 and stays unchanged, and a tenant keeps at least one admin."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from guardian.control.auth.users import get_user
from guardian.control.context import ControlContext
from tests.control_helpers import PASSWORD, Actor, actor, make_tenant, make_user
from tests.integration.control.auth.conftest import AuthApp

USERS = "/api/v1/users"


def _actors(app: AuthApp) -> tuple[Actor, Actor, Actor]:
    """An admin and a viewer of one tenant and an admin of another."""
    tenant, other = make_tenant(app.ctx, "a"), make_tenant(app.ctx, "b")
    return (
        actor(app.ctx, app.client, tenant, "admin"),
        actor(app.ctx, app.client, tenant, "viewer"),
        actor(app.ctx, app.client, other, "admin"),
    )


def test_admin_creates_lists_and_reads_users(auth_app: AuthApp) -> None:
    admin, viewer, _stranger = _actors(auth_app)
    email = f"New-{uuid.uuid4().hex[:6]}@Example.com"
    made = auth_app.client.post(
        USERS, json={"email": email, "role": "viewer", "password": PASSWORD}, headers=admin.headers
    )
    assert made.status_code == 201, made.text
    user = made.json()
    assert user["email"] == email.lower() and user["role"] == "viewer" and not user["disabled"]
    listed = auth_app.client.get(USERS, headers=admin.headers).json()["users"]
    assert {u["id"] for u in listed} == {admin.user_id, viewer.user_id, user["id"]}
    one = auth_app.client.get(f"{USERS}/{user['id']}", headers=admin.headers)
    assert one.json() == user
    login = auth_app.client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200


def test_create_rejects_duplicates_weak_passwords_and_bad_roles(auth_app: AuthApp) -> None:
    admin, viewer, stranger = _actors(auth_app)

    def create(body: dict[str, str]) -> int:
        return auth_app.client.post(USERS, json=body, headers=admin.headers).status_code

    assert create({"email": stranger.email, "role": "viewer"}) == 409  # unique across tenants
    assert create({"email": viewer.email.upper(), "role": "viewer"}) == 409
    weak = auth_app.client.post(
        USERS,
        json={"email": "w@example.com", "role": "viewer", "password": "short"},
        headers=admin.headers,
    )
    assert weak.status_code == 422 and weak.json()["error"]["code"] == "weak_password"
    assert create({"email": "r@example.com", "role": "owner"}) == 422
    assert create({"email": "not-an-email", "role": "viewer"}) == 422


def test_viewers_are_denied_everything_but_me(auth_app: AuthApp) -> None:
    admin, viewer, _stranger = _actors(auth_app)
    client, headers = auth_app.client, viewer.headers
    assert client.get(f"{USERS}/me", headers=headers).json()["id"] == viewer.user_id
    assert client.get(USERS, headers=headers).status_code == 403
    body = {"email": "x@example.com", "role": "admin", "password": PASSWORD}
    assert client.post(USERS, json=body, headers=headers).status_code == 403
    assert client.get(f"{USERS}/{admin.user_id}", headers=headers).status_code == 403
    assert (
        client.patch(
            f"{USERS}/{viewer.user_id}", json={"role": "admin"}, headers=headers
        ).status_code
        == 403
    )
    assert client.delete(f"{USERS}/{admin.user_id}", headers=headers).status_code == 403
    assert client.get(USERS).status_code == 401


def test_another_tenants_user_answers_404_and_changes_nothing(auth_app: AuthApp) -> None:
    admin, viewer, stranger = _actors(auth_app)
    client, target = auth_app.client, f"{USERS}/{viewer.user_id}"
    assert client.get(target, headers=stranger.headers).status_code == 404
    patched = client.patch(
        target, json={"role": "admin", "disabled": True}, headers=stranger.headers
    )
    assert patched.status_code == 404
    assert patched.json()["error"] == {"code": "not_found", "message": "no such user"}
    assert client.delete(target, headers=stranger.headers).status_code == 404
    assert client.get(f"{USERS}/{uuid.uuid4()}", headers=stranger.headers).status_code == 404
    with auth_app.ctx.db.tenant(admin.tenant_id) as session:
        user = get_user(session, admin.tenant_id, viewer.user_id)
        assert (user.role, user.disabled_at) == ("viewer", None)
    listed = client.get(USERS, headers=stranger.headers).json()["users"]
    assert [u["id"] for u in listed] == [stranger.user_id]


def test_role_changes_apply_to_existing_tokens(auth_app: AuthApp) -> None:
    admin, viewer, _stranger = _actors(auth_app)
    promoted = auth_app.client.patch(
        f"{USERS}/{viewer.user_id}", json={"role": "admin"}, headers=admin.headers
    )
    assert promoted.status_code == 200 and promoted.json()["role"] == "admin"
    assert auth_app.client.get(USERS, headers=viewer.headers).status_code == 200


def test_the_last_admin_cannot_be_demoted_disabled_or_removed(auth_app: AuthApp) -> None:
    admin, viewer, _stranger = _actors(auth_app)
    me = f"{USERS}/{admin.user_id}"
    for change in ({"role": "viewer"}, {"disabled": True}):
        got = auth_app.client.patch(me, json=change, headers=admin.headers)
        assert got.status_code == 409, change
        assert got.json()["error"]["code"] == "last_admin"
    assert auth_app.client.delete(me, headers=admin.headers).status_code == 409
    auth_app.client.patch(
        f"{USERS}/{viewer.user_id}", json={"role": "admin"}, headers=admin.headers
    )
    assert (
        auth_app.client.patch(me, json={"role": "viewer"}, headers=admin.headers).status_code == 200
    )


def test_delete_removes_the_user_and_their_sessions(auth_app: AuthApp) -> None:
    admin, viewer, _stranger = _actors(auth_app)
    target = f"{USERS}/{viewer.user_id}"
    assert auth_app.client.delete(target, headers=admin.headers).status_code == 204
    assert auth_app.client.get(target, headers=admin.headers).status_code == 404
    assert auth_app.client.get(f"{USERS}/me", headers=viewer.headers).status_code == 401
    email_free = auth_app.client.post(
        USERS, json={"email": viewer.email, "role": "viewer"}, headers=admin.headers
    )
    assert email_free.status_code == 201


@pytest.mark.parametrize("role", ["admin", "viewer"])
def test_make_user_helper_users_can_log_in(control_ctx: ControlContext, role: str) -> None:
    from guardian.control.app import create_app

    tenant = make_tenant(control_ctx)
    _uid, email = make_user(control_ctx, tenant, role)
    with TestClient(create_app(control_ctx)) as client:
        got = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        assert got.status_code == 200
