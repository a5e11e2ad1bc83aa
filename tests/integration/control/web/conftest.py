"""Fixtures of the web UI tests: the inventory app (two tenants) and signed-in browsers."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient

from guardian.control.context import ControlContext
from tests.control_helpers import PASSWORD, Actor
from tests.integration.control.auth.conftest import Clock
from tests.integration.control.inventory.conftest import Inventory, open_inventory

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found is not None, "the page has no CSRF field"
    return found.group(1)


@dataclass
class Browser:
    """A cookie-keeping client of the UI, like one browser profile."""

    client: TestClient

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.client.get(url, follow_redirects=False, **kwargs)

    def csrf(self) -> str:
        return csrf_of(self.client.get("/profile").text)

    def post(self, url: str, data: dict[str, str], *, csrf: str | None = None) -> httpx.Response:
        """A form post with the page's CSRF token (or ``csrf`` as given)."""
        token = self.csrf() if csrf is None else csrf
        return self.client.post(url, data={**data, "csrf_token": token}, follow_redirects=False)


def browser(ctx: ControlContext, inv: Inventory, *, https: bool = True) -> Browser:
    scheme = "https" if https else "http"
    return Browser(TestClient(inv.client.app, base_url=f"{scheme}://testserver"))


def sign_in(ctx: ControlContext, inv: Inventory, who: Actor, *, https: bool = True) -> Browser:
    """A browser signed in as ``who`` through the login form."""
    b = browser(ctx, inv, https=https)
    page = b.client.get("/login")
    got = b.client.post(
        "/login",
        data={"email": who.email, "password": PASSWORD, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert got.status_code == 303, got.text
    return b


@pytest.fixture
def web(sqlite_control_ctx: ControlContext) -> Iterator[Inventory]:
    """The inventory app on SQLite (two tenants with admins, viewers, relays and sites), on
    a settable clock (``ctx.clock``, a ``Clock``)."""
    sqlite_control_ctx.clock = Clock(time.time())
    yield from open_inventory(sqlite_control_ctx)


@pytest.fixture
def web_any(control_ctx: ControlContext) -> Iterator[Inventory]:
    """The same on SQLite and on PostgreSQL (row-level security)."""
    yield from open_inventory(control_ctx)
