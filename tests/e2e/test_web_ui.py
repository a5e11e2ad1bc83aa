"""The web UI in a real browser (Debian's Chromium via Playwright) against control plane,
relay and edge processes with street footage flowing through the real camera pipeline.

Screenshots of every page land in test-artifacts/screenshots/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from guardian.edge.detect.models.store import ModelStore, default_models_dir
from tests.e2e.link_harness import ADMIN_EMAIL, ADMIN_PASSWORD, LinkStack, wait_for
from tests.e2e.web_stack import (
    DESKTOP,
    PHONE,
    VIEWER_EMAIL,
    VIEWER_PASSWORD,
    PageErrors,
    camera_events,
    chromium,
    clips_ready,
    control_database,
    footage_stack,
    overflow,
    screenshot,
    signed_in,
)
from tests.pg import MakeTemplate

pytestmark = [pytest.mark.postgres, pytest.mark.model, pytest.mark.slow]
XSS = '<img src=x onerror="alert(document.domain)"><script>alert(1)</script>'
LIVE_S = 90_000  # ms: footage → edge → relay → control plane → SSE → the page (busy host)
NEW_ROW = """ids => [...document.querySelectorAll("li.event-row")]
  .some(r => !ids.includes(r.getAttribute("data-event-id")))"""


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory,
    pg_server: str,
    pg_template: MakeTemplate,
    vtest_h264: Path,
) -> Iterator[LinkStack]:
    if "ssd-mobilenetv2-oidv4" not in ModelStore(default_models_dir()).names():
        pytest.skip("the default model is not fetched (make models)")
    root = tmp_path_factory.mktemp("web")
    with control_database(pg_server, pg_template) as database:
        with footage_stack(root, database, vtest_h264) as running:
            yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as running:
        yield running


@pytest.fixture(scope="module")
def admin(stack: LinkStack, browser: Browser) -> Iterator[tuple[Page, PageErrors]]:
    context, page, errors = signed_in(
        browser, stack.control_url, ADMIN_EMAIL, ADMIN_PASSWORD, DESKTOP
    )
    yield page, errors
    context.close()


def _rows(page: Page) -> list[str]:
    ids: list[str] = page.eval_on_selector_all(
        "li.event-row", "rows => rows.map(r => r.getAttribute('data-event-id'))"
    )
    return ids


def test_admin_uses_timeline_filters_live_updates_and_notes(
    stack: LinkStack, admin: tuple[Page, PageErrors]
) -> None:
    page, errors = admin
    response = page.goto("/")
    assert response is not None
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    screenshot(page, "dashboard")

    # The timeline shows the footage's events, in local time (Europe/Berlin), by day.
    page.goto("/events")
    expect(page.locator("#live-status")).to_have_text("Live", timeout=10_000)
    shown = _rows(page)
    assert len(shown) >= 2
    # The same events the API lists for the tenant (fetched after: newer ones come first).
    api_ids = {e["id"] for e in camera_events(stack, stack.admin_headers())}
    assert set(shown) <= api_ids, set(shown) - api_ids
    assert page.locator("li.day time").first.text_content() != page.locator(
        "li.day time"
    ).first.get_attribute("datetime")  # localised by the page script
    screenshot(page, "timeline")

    # Filters: camera and type select, free text.
    page.select_option("#f-type", "interaction_detected")
    page.click("text=Apply")
    page.wait_for_url(re.compile(r"type=interaction_detected"))
    types = page.locator(".event-type").all_text_contents()
    assert types and set(types) == {"Interaction detected"}
    page.fill("#f-q", "no such words anywhere")
    page.click("text=Apply")
    expect(page.locator("#empty-state")).to_be_visible()
    screenshot(page, "timeline-filtered-empty")
    page.click("text=Clear")
    page.wait_for_url(f"{stack.control_url}/events")

    # The footage keeps making events: a new one appears without a reload.
    expect(page.locator("#live-status")).to_have_text("Live", timeout=10_000)
    page.evaluate("window.__marker = 'same page'")
    before = _rows(page)
    page.wait_for_function(NEW_ROW, arg=before, timeout=LIVE_S)
    new_id = next(i for i in _rows(page) if i not in before)
    row = page.locator(f'li.event-row[data-event-id="{new_id}"]')
    expect(row).to_be_visible()
    assert page.evaluate("window.__marker") == "same page"
    screenshot(page, "timeline-live")

    # The event page; a note is added, edited, persisted, and its markup stays text.
    row.locator("a").click()
    page.wait_for_url(re.compile(f"/events/{new_id}$"))
    page.fill(f"#added-new-{new_id}", "6 milk 1l\n2 bread")
    page.fill(f"#comment-new-{new_id}", XSS)
    page.click("text=Add note")
    page.wait_for_url(re.compile(r"done=note-added"))
    note = page.locator("article.note").first
    expect(note.locator(".note-comment")).to_have_text(XSS)
    assert page.locator(".notes img, .notes script").count() == 0
    note_id = (note.get_attribute("id") or "").removeprefix("note-")
    note.locator("summary", has_text="Edit").click()
    page.fill(f"#comment-{note_id}", "recounted: 5 milk")
    page.fill(f"#took-{note_id}", "1 bread")
    note.locator("text=Save note").click()
    page.wait_for_url(re.compile(r"done=note-saved"))
    page.reload()
    expect(page.locator(f"#note-{note_id} .note-comment")).to_have_text("recounted: 5 milk")
    detail = httpx.get(
        f"{stack.control_url}/api/v1/events/{new_id}", headers=stack.admin_headers(), timeout=10
    ).json()
    [saved] = detail["notes"]
    assert saved["version"] == 2 and saved["took_items"] == [{"item": "bread", "quantity": 1}]
    screenshot(page, "event-detail")

    # A camera renamed to markup shows as text on every page.
    page.goto("/cameras")
    camera = page.locator("li.camera-card").first
    camera.locator("summary", has_text="Rename or label").click()
    camera.locator("input[name=display_name]").fill(XSS)
    camera.locator("input[name=labels]").fill("pavement, entrance")
    camera.locator("text=Save camera").click()
    page.wait_for_url(re.compile(r"done=camera-saved"))
    expect(page.locator("h2.camera-title").first).to_have_text(XSS)
    screenshot(page, "cameras")
    page.goto("/events")
    expect(page.locator(".event-source").first).to_contain_text("<img src=x")
    assert page.locator("main img").count() == 0

    for path, name in (("/interactions", "interactions"), ("/sites", "sites"),
                       ("/users", "users"), ("/profile", "profile")):  # fmt: skip
        got = page.goto(path)
        assert got is not None and got.status == 200, path
        screenshot(page, name)

    # Onboarding: a new site and the exact enrol command.
    page.goto("/sites")
    page.fill("#site-name", "Harbour kiosk")
    page.click("text=Add site")
    command = page.locator("#enroll-command").text_content() or ""
    assert re.fullmatch(
        rf"guardian edge enroll --relay 127\.0\.0\.1:{stack.relay_link_port} --token gbt_\S+",
        command,
    ), command
    screenshot(page, "onboarding")
    assert errors.messages == [], errors.messages


def test_viewer_sees_no_admin_pages(stack: LinkStack, browser: Browser) -> None:
    context, page, errors = signed_in(
        browser, stack.control_url, VIEWER_EMAIL, VIEWER_PASSWORD, DESKTOP
    )
    try:
        expect(page.locator("#main-nav")).to_be_visible()
        assert page.locator('#main-nav a[href="/users"]').count() == 0
        got = page.goto("/users")
        assert got is not None and got.status == 403
        expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
        screenshot(page, "viewer-users-403")
        page.goto("/cameras")
        assert page.locator("form[action^='/cameras/']").count() == 0
        page.goto("/sites")
        assert page.locator("form[action='/sites']").count() == 0
        assert errors.messages == [], errors.messages
    finally:
        context.close()


def test_timeline_is_usable_on_a_phone(stack: LinkStack, browser: Browser) -> None:
    context, page, errors = signed_in(
        browser, stack.control_url, VIEWER_EMAIL, VIEWER_PASSWORD, PHONE
    )
    try:
        page.goto("/events")
        # Nothing wider than the screen; the nav collapses behind a keyboard-usable button.
        assert overflow(page) == []
        expect(page.locator("#main-nav")).to_be_hidden()
        toggle = page.locator(".nav-toggle")
        expect(toggle).to_be_visible()
        toggle.focus()
        page.keyboard.press("Enter")
        expect(page.locator("#main-nav")).to_be_visible()
        assert toggle.get_attribute("aria-expanded") == "true"
        assert overflow(page) == []
        screenshot(page, "phone-nav-open")
        page.keyboard.press("Escape")
        expect(page.locator("#main-nav")).to_be_hidden()
        first = page.locator("li.event-row a").first
        box = first.bounding_box()
        assert box is not None and box["width"] <= PHONE["width"] and box["height"] >= 40
        screenshot(page, "phone-timeline")
        first.click()
        page.wait_for_url(re.compile(r"/events/[0-9a-f-]{36}$"))
        assert overflow(page) == []
        screenshot(page, "phone-event")
        assert errors.messages == [], errors.messages
    finally:
        context.close()


def test_event_clip_plays_and_seeks_from_the_relay(
    stack: LinkStack, admin: tuple[Page, PageErrors]
) -> None:
    """The clip streams from the edge through the relay straight into the browser's player."""
    page, errors = admin
    # An interaction from the footage whose clip the edge has assembled from its recording.
    headers = stack.admin_headers()
    ready: list[dict[str, Any]] = []

    def found() -> bool:
        done = clips_ready(stack)
        ready[:] = [
            e
            for e in camera_events(stack, headers)
            if e["id"] in done and e["type"] == "interaction_detected"
        ]
        return bool(ready)

    wait_for(found, 90, "a finished clip of an interaction", stack.edge, poll=1.0)
    event = ready[-1]
    response = page.goto(f"/events/{event['id']}")
    assert response is not None
    media = response.headers["content-security-policy"]
    relay_origin = re.search(r"media-src 'self' (\S+);", media)
    assert relay_origin is not None, media
    video = page.locator("#clip-player")
    expect(video).to_be_visible()
    assert (video.get_attribute("src") or "").startswith(relay_origin.group(1))
    page.evaluate(PLAY)
    page.wait_for_function(f"() => {VIDEO}.currentTime > 0.5", timeout=30_000)
    duration = page.evaluate(f"() => {VIDEO}.duration")
    assert duration > 2, duration
    middle = duration / 2
    page.evaluate(f"() => {{ {VIDEO}.currentTime = {middle}; }}")
    page.wait_for_function(
        f"() => !{VIDEO}.seeking && {VIDEO}.currentTime >= {middle} - 0.1", timeout=15_000
    )
    page.wait_for_function(f"() => {VIDEO}.currentTime > {middle} + 0.3", timeout=15_000)
    # The snapshot loads from the relay with the detected person outlined.
    page.wait_for_function(
        "() => document.getElementById('snapshot-img').naturalWidth > 0", timeout=15_000
    )
    expect(page.locator("#snapshot-boxes rect").first).to_be_attached(timeout=15_000)
    screenshot(page, "event-clip")
    download = page.locator("a[download]").get_attribute("href") or ""
    got = page.request.get(download, headers={"Range": "bytes=0-1023"})
    assert got.status == 206
    assert "attachment" in got.headers.get("content-disposition", "")
    assert ".mp4" in got.headers.get("content-disposition", "")
    assert errors.messages == [], errors.messages


VIDEO = "document.getElementById('clip-player')"
PLAY = f"async () => {{ const v = {VIDEO}; v.muted = true; await v.play(); }}"
