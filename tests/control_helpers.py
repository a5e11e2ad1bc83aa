"""Test helpers for the control plane: tenants, users with real tokens, relays, sites.

They call the real modules (nothing is faked): users get Argon2id hashes and log in
through ``POST /api/v1/auth/login`` of the app under test.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from fastapi.testclient import TestClient

from guardian.common.db import utcnow
from guardian.control.context import ControlContext
from guardian.control.store.tables import Tenant

PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class Actor:
    """A logged-in user: their ids and the headers that carry their access token."""

    tenant_id: str
    user_id: str
    email: str
    role: str
    headers: dict[str, str]


def make_tenant(ctx: ControlContext, name: str = "shop", plan: str = "free") -> str:
    tenant_id = str(uuid.uuid4())
    with ctx.db.system() as session:
        session.add(Tenant(id=tenant_id, name=name, plan=plan, created_at=utcnow()))
    return tenant_id


def make_user(
    ctx: ControlContext, tenant_id: str, role: str = "admin", email: str | None = None
) -> tuple[str, str]:
    """A user with ``PASSWORD``; returns (user_id, email)."""
    from guardian.control.auth.users import create_user

    email = email or f"{role}-{uuid.uuid4().hex[:8]}@example.com"
    with ctx.db.system() as session:
        user = create_user(session, tenant_id=tenant_id, email=email, role=role, password=PASSWORD)
        return user.id, email


def login(client: TestClient, email: str, password: str = PASSWORD) -> dict[str, str]:
    got = client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert got.status_code == 200, got.text
    return {"Authorization": f"Bearer {got.json()['access_token']}"}


def actor(ctx: ControlContext, client: TestClient, tenant_id: str, role: str = "admin") -> Actor:
    user_id, email = make_user(ctx, tenant_id, role)
    return Actor(tenant_id, user_id, email, role, login(client, email))


def make_relay(ctx: ControlContext, name: str | None = None) -> tuple[str, str]:
    """A relay; returns (relay_id, its bearer token)."""
    from guardian.control.tenancy.relays import create_relay

    with ctx.db.system() as session:
        relay, token = create_relay(
            session, name=name or f"relay-{uuid.uuid4().hex[:6]}", url="https://relay.example"
        )
        return relay.id, token


def assign_relay(ctx: ControlContext, tenant_id: str, relay_id: str) -> None:
    from guardian.control.tenancy.relays import assign_relay as assign

    with ctx.db.system() as session:
        assign(session, tenant_id=tenant_id, relay_id=relay_id)


def make_site(ctx: ControlContext, tenant_id: str, name: str = "shop") -> str:
    from guardian.control.tenancy.sites import create_site

    with ctx.db.tenant(tenant_id) as session:
        site, _token = create_site(session, tenant_id=tenant_id, name=name, now=utcnow())
        return site.id
