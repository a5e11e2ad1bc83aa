"""A running deployment for the browser tests: control plane, relay and edge processes with
street footage flowing (``LinkStack``), a viewer user, and Debian's Chromium via Playwright.

Everything here is built once per test module: processes and the browser take seconds to
start, the pages under test take milliseconds.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, sync_playwright
from psycopg import sql
from sqlalchemy import select

from guardian.common.db import session_factory
from guardian.edge.store.tables import EventMedia
from tests.control_fixtures import migrate_control
from tests.e2e.link_harness import LinkStack, cli, wait_for
from tests.e2e.media_stack import enable_playback
from tests.pg import MakeTemplate, _admin_connect, _drop_database, database_url

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
VIEWER_EMAIL = "viewer@link.example"
VIEWER_PASSWORD = "viewer password, not a secret"
STREET = {
    "name": "pavement",
    "polygon": [[0.0, 0.35], [1.0, 0.35], [1.0, 1.0], [0.0, 1.0]],
    "interaction": True,
    "min_dwell": 2.0,
}
CAMERA_ENV = {
    "GUARDIAN_EDGE_CAMERAS__POLL_SECONDS": "0.5",
    "GUARDIAN_EDGE_CAMERAS__STATUS_SECONDS": "1",
    "GUARDIAN_EDGE_CAMERAS__CRITICAL_FREE_BYTES": "0",
}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
DESKTOP: ViewportSize = {"width": 1280, "height": 860}
PHONE: ViewportSize = {"width": 390, "height": 844}


@contextmanager
def control_database(pg_server: str, pg_template: MakeTemplate) -> Iterator[str]:
    """A fresh, migrated control database for a whole module; dropped afterwards."""
    template = pg_template("control", migrate_control)
    dbname = f"guardian_test_{uuid.uuid4().hex[:8]}"
    with _admin_connect(pg_server) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(dbname), sql.Identifier(template)
            )
        )
    try:
        yield database_url(pg_server, dbname)
    finally:
        _drop_database(pg_server, dbname)


@contextmanager
def footage_stack(root: Path, database: str, footage: Path) -> Iterator[LinkStack]:
    """Control, relay and an enrolled edge playing ``footage`` from a ``file://`` camera,
    plus a viewer user; yields once camera events have reached the control plane."""
    stack = LinkStack(root, database)
    try:
        deployment = stack.setup()
        cli(
            "control", "user", "create", VIEWER_EMAIL, "--tenant", deployment.tenant_id,
            "--role", "viewer", "--password-stdin", "--data-dir", str(stack.control_dir),
            "--database-url", database, "--json", stdin=VIEWER_PASSWORD + "\n",
        )  # fmt: skip
        enable_playback(stack)  # the relay verifies playback tokens, browsers reach it
        stack.relay_service.start()
        enrolled = stack.enroll()
        assert enrolled.returncode == 0, enrolled.stdout + enrolled.stderr
        cli(
            "edge", "camera", "add", "street", "--url", footage.resolve().as_uri(),
            "--zone", json.dumps(STREET), "--detect-fps", "5", "--data-dir", str(stack.edge_dir),
        )  # fmt: skip
        stack.edge.env.update(CAMERA_ENV)
        stack.edge.start()
        headers = stack.admin_headers()
        wait_for(
            lambda: len(camera_events(stack, headers)) >= 2,
            90,
            "camera events from the footage",
            stack.edge,
            stack.relay_service,
            stack.control,
            poll=1.0,
        )
        yield stack
    finally:
        stack.close()


def camera_events(stack: LinkStack, headers: dict[str, str]) -> list[dict[str, Any]]:
    """The control plane's camera events (newest first) through its API."""
    got = httpx.get(
        f"{stack.control_url}/api/v1/events", params={"limit": 200}, headers=headers, timeout=10
    )
    assert got.status_code == 200, got.text
    return [e for e in got.json()["items"] if e["source_kind"] == "camera"]


def clips_ready(stack: LinkStack) -> set[str]:
    """Ids of events whose clip and snapshot the edge has finished (``present``)."""
    with session_factory(stack.edge_events.engine)() as session:
        rows = session.execute(
            select(EventMedia.event_id, EventMedia.kind).where(EventMedia.state == "present")
        ).all()
    kinds: dict[str, set[str]] = {}
    for event_id, kind in rows:
        kinds.setdefault(event_id, set()).add(kind)
    return {e for e, found in kinds.items() if {"clip", "snapshot"} <= found}


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless, driven by Playwright."""
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"{CHROMIUM} is not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class PageErrors:
    """Script errors, CSP violations and dialogs (an XSS ``alert``) seen by a page."""

    def __init__(self, page: Page) -> None:
        self.messages: list[str] = []
        page.on("pageerror", lambda exc: self.messages.append(f"pageerror: {exc}"))
        page.on("dialog", self._dialog)
        page.on("console", self._console)

    def _dialog(self, dialog: Any) -> None:
        self.messages.append(f"dialog: {dialog.message}")
        dialog.dismiss()

    def _console(self, message: Any) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            self.messages.append(f"csp: {message.text}")


def signed_in(
    browser: Browser, base_url: str, email: str, password: str, viewport: ViewportSize
) -> tuple[BrowserContext, Page, PageErrors]:
    """A fresh browser profile signed in through the login form."""
    context = browser.new_context(base_url=base_url, viewport=viewport, timezone_id="Europe/Berlin")
    page = context.new_page()
    errors = PageErrors(page)
    page.goto("/login")
    screenshot(page, f"login-{viewport['width']}")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/")
    return context, page, errors


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot as a test artefact (test-artifacts/screenshots/)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.evaluate("window.scrollTo(0, 0)")  # a sticky bar would be drawn mid-page otherwise
    page.screenshot(path=str(path), full_page=True)
    return path


WIDEST = """() => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
  .slice(0, 5)
  .map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))"""


def overflow(page: Page) -> list[str]:
    """Elements reaching past the right edge of the viewport (none on a usable page)."""
    found: list[str] = page.evaluate(WIDEST)
    return found
