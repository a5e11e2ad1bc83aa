"""Fixtures of the auth tests: an app on a controllable clock and a second client address."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from guardian.control.app import create_app
from guardian.control.context import ControlContext


@dataclass
class Clock:
    """A settable clock that starts at the real time."""

    now: float

    def __call__(self) -> float:
        return self.now


@dataclass
class AuthApp:
    ctx: ControlContext
    app: FastAPI
    client: TestClient  # requests from 10.0.0.1
    clock: Clock

    def client_from(self, host: str) -> TestClient:
        """A client of the same (running) app whose requests come from ``host``."""
        return TestClient(self.app, client=(host, 40000))


@pytest.fixture
def auth_app(control_ctx: ControlContext) -> Iterator[AuthApp]:
    clock = Clock(time.time())
    control_ctx.clock = clock
    control_ctx.settings.auth.login_max_failures = 2
    app = create_app(control_ctx)
    with TestClient(app, client=("10.0.0.1", 40000)) as client:
        yield AuthApp(control_ctx, app, client, clock)
