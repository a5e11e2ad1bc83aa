"""An app on a real store (SQLite and PostgreSQL) with two tenants, their users and relays."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient

from guardian.control.app import create_app
from guardian.control.context import ControlContext
from tests.control_helpers import Actor, actor, assign_relay, make_relay, make_site, make_tenant

T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


def rfc3339(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Tenant:
    id: str
    admin: Actor
    viewer: Actor
    site: str
    relay_headers: dict[str, str]
    _seq: list[int] = field(default_factory=lambda: [0])

    def summary(self, **overrides: Any) -> dict[str, Any]:
        """An event summary of this tenant (a new id and a later start each call)."""
        self._seq[0] += 1
        start = T0 + dt.timedelta(minutes=self._seq[0])
        data: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "tenant_id": self.id,
            "site_id": self.site,
            "source_kind": "camera",
            "source_name": "front",
            "type": "interaction_detected",
            "label": "person",
            "zone": "shelf",
            "dwell_s": 4.0,
            "person_count": 1,
            "confidence": "high",
            "state": "ended",
            "started_at": rfc3339(start),
            "ended_at": rfc3339(start + dt.timedelta(seconds=5)),
            "version": 1,
        }
        data.update(overrides)
        if "started_at" in overrides and "ended_at" not in overrides:
            data["ended_at"] = overrides["started_at"]
        return data


@dataclass
class Inventory:
    ctx: ControlContext
    client: TestClient
    a: Tenant
    b: Tenant

    def ingest(self, *events: dict[str, Any], tenant: Tenant | None = None) -> list[Any]:
        """Ingest through ``tenant``'s relay (default A's); returns the result list."""
        headers = (tenant or self.a).relay_headers
        got = self.client.post(
            "/api/v1/ingest/events", json={"events": list(events)}, headers=headers
        )
        assert got.status_code == 200, got.text
        results: list[Any] = got.json()["results"]
        return results

    def get(self, who: Actor, url: str, **params: Any) -> Any:
        return self.client.get(url, params=params, headers=who.headers)


def make_tenant_with_relay(ctx: ControlContext, client: TestClient, name: str) -> Tenant:
    tenant_id = make_tenant(ctx, name)
    relay_id, token = make_relay(ctx)
    assign_relay(ctx, tenant_id, relay_id)
    return Tenant(
        id=tenant_id,
        admin=actor(ctx, client, tenant_id, "admin"),
        viewer=actor(ctx, client, tenant_id, "viewer"),
        site=make_site(ctx, tenant_id, f"{name} shop"),
        relay_headers={"Authorization": f"Bearer {token}"},
    )


def open_inventory(ctx: ControlContext) -> Iterator[Inventory]:
    # Tests make many quick calls from one token: lift the per-caller rate limit.
    ctx.settings.http.rate_per_second = 10_000.0
    ctx.settings.http.rate_burst = 10_000
    with TestClient(create_app(ctx)) as client:
        a = make_tenant_with_relay(ctx, client, "alpha")
        b = make_tenant_with_relay(ctx, client, "beta")
        yield Inventory(ctx, client, a, b)


@pytest.fixture
def inv(control_ctx: ControlContext) -> Iterator[Inventory]:
    yield from open_inventory(control_ctx)


@pytest.fixture
def pg_inv(pg_control_ctx: ControlContext) -> Iterator[Inventory]:
    yield from open_inventory(pg_control_ctx)
