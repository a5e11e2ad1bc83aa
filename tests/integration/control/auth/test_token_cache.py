"""Verified tokens are reused briefly: the bound on how long a change made elsewhere takes,
and changes made through this process taking effect at once."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

from sqlalchemy import update

from guardian.control.api.deps import VERIFIER
from guardian.control.auth.verifier import CACHE_SECONDS, Verifier
from guardian.control.store.tables import User
from tests.control_helpers import login, make_tenant, make_user
from tests.integration.control.auth.conftest import AuthApp

ME, USERS = "/api/v1/users/me", "/api/v1/users"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _disable_elsewhere(app: AuthApp, user_id: str) -> None:
    """Disable a user the way another replica or the CLI would: not through this process."""
    with app.ctx.db.system() as session:
        session.execute(
            update(User).where(User.id == user_id).values(disabled_at=dt.datetime.now(dt.UTC))
        )


def test_a_user_disabled_elsewhere_loses_access_within_the_cache_lifetime(
    auth_app: AuthApp,
) -> None:
    tenant = make_tenant(auth_app.ctx)
    user_id, email = make_user(auth_app.ctx, tenant, "viewer")
    headers = login(auth_app.client, email)
    assert auth_app.client.get(ME, headers=headers).status_code == 200
    _disable_elsewhere(auth_app, user_id)
    # Still vouched for by this replica's cache, for at most CACHE_SECONDS...
    auth_app.clock.now += CACHE_SECONDS - 0.5
    assert auth_app.client.get(ME, headers=headers).status_code == 200
    # ...then the token is verified again and the user read again.
    auth_app.clock.now += 0.5
    refused = auth_app.client.get(ME, headers=headers)
    assert refused.status_code == 401
    assert refused.json()["error"]["message"] == "user is disabled"


def test_changes_made_through_this_process_apply_to_cached_tokens_at_once(
    auth_app: AuthApp,
) -> None:
    ctx, client = auth_app.ctx, auth_app.client
    tenant = make_tenant(ctx)
    _boss_id, boss_email = make_user(ctx, tenant, "admin")
    second_id, second_email = make_user(ctx, tenant, "admin")
    boss = login(client, boss_email)
    second = login(client, second_email)
    assert client.get(USERS, headers=second).status_code == 200  # now cached as an admin

    demoted = client.patch(f"{USERS}/{second_id}", json={"role": "viewer"}, headers=boss)
    assert demoted.status_code == 200, demoted.text
    assert client.get(USERS, headers=second).status_code == 403
    assert client.get(ME, headers=second).json()["role"] == "viewer"

    assert client.patch(f"{USERS}/{second_id}", json={"disabled": True}, headers=boss).is_success
    refused = client.get(ME, headers=second)
    assert refused.status_code == 401
    assert refused.json()["error"]["message"] == "user is disabled"


def test_a_cached_token_still_expires_on_time(auth_app: AuthApp) -> None:
    tenant = make_tenant(auth_app.ctx)
    _user_id, email = make_user(auth_app.ctx, tenant, "viewer")
    headers = login(auth_app.client, email)
    settings = auth_app.ctx.settings.auth
    # Verified (and cached) a moment before it expires, then used past exp + leeway.
    auth_app.clock.now += settings.access_token_seconds - 1
    assert auth_app.client.get(ME, headers=headers).status_code == 200
    auth_app.clock.now += 1 + settings.leeway_seconds + 0.001
    refused = auth_app.client.get(ME, headers=headers)
    assert refused.status_code == 401
    assert refused.json()["error"]["message"] == "token has expired"


def test_a_tampered_token_is_refused_although_the_genuine_one_is_cached(
    auth_app: AuthApp,
) -> None:
    tenant = make_tenant(auth_app.ctx)
    _user_id, email = make_user(auth_app.ctx, tenant, "admin")
    token = login(auth_app.client, email)["Authorization"].removeprefix("Bearer ")
    assert auth_app.client.get(ME, headers=_bearer(token)).status_code == 200
    head, payload, signature = token.split(".")
    forged = f"{head}.{payload}.{signature[:-4]}AAAA"
    refused = auth_app.client.get(ME, headers=_bearer(forged))
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_token"


def _wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "the background refresh did not finish"
        time.sleep(0.01)


def test_a_token_in_steady_use_is_refreshed_in_the_background(auth_app: AuthApp) -> None:
    tenant = make_tenant(auth_app.ctx)
    user_id, email = make_user(auth_app.ctx, tenant, "viewer")
    headers = login(auth_app.client, email)
    verifier = auth_app.ctx.services[VERIFIER]
    assert isinstance(verifier, Verifier)
    token = headers["Authorization"].removeprefix("Bearer ")
    assert auth_app.client.get(ME, headers=headers).status_code == 200
    first = verifier.cache._entries[verifier.cache.key(token)].verified_at
    auth_app.clock.now += CACHE_SECONDS * 0.85
    assert auth_app.client.get(ME, headers=headers).status_code == 200  # starts a refresh
    _wait_for(lambda: verifier.cache._entries[verifier.cache.key(token)].verified_at > first)
    # Past the first verification's lifetime the refreshed entry still serves...
    auth_app.clock.now += CACHE_SECONDS * 0.85
    _disable_elsewhere(auth_app, user_id)
    assert auth_app.client.get(ME, headers=headers).status_code == 200
    # ...and the next refresh finds the user disabled: refused before the entry runs out.
    _wait_for(lambda: verifier.cache.key(token) not in verifier.cache._entries)
    refused = auth_app.client.get(ME, headers=headers)
    assert refused.status_code == 401
    assert refused.json()["error"]["message"] == "user is disabled"
