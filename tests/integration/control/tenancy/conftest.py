"""Fixtures of the tenancy API tests: a running app and logged-in actors of two tenants."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from guardian.control.app import create_app
from guardian.control.context import ControlContext
from tests.control_helpers import Actor, actor, make_tenant


@dataclass(frozen=True)
class Tenants:
    """Admin and viewer of tenant A, admin and viewer of tenant B."""

    a_admin: Actor
    a_viewer: Actor
    b_admin: Actor
    b_viewer: Actor


@pytest.fixture
def client(control_ctx: ControlContext) -> Iterator[TestClient]:
    with TestClient(create_app(control_ctx)) as client:
        yield client


@pytest.fixture
def tenants(control_ctx: ControlContext, client: TestClient) -> Tenants:
    a, b = make_tenant(control_ctx, "a"), make_tenant(control_ctx, "b")
    return Tenants(
        actor(control_ctx, client, a, "admin"),
        actor(control_ctx, client, a, "viewer"),
        actor(control_ctx, client, b, "admin"),
        actor(control_ctx, client, b, "viewer"),
    )
