"""The UI's session: login redirects, cookie flags, CSRF, transparent refresh and logout."""

from __future__ import annotations

from typing import Any

from guardian.control.web.session import ACCESS_COOKIE, CSRF_COOKIE, REFRESH_COOKIE
from tests.control_helpers import PASSWORD
from tests.integration.control.auth.conftest import Clock
from tests.integration.control.inventory.conftest import Inventory
from tests.integration.control.web.conftest import browser, csrf_of, sign_in


def _cookie_headers(response: Any) -> dict[str, str]:
    headers = response.headers
    return {h.split("=", 1)[0]: h for h in headers.get_list("set-cookie")}


def test_pages_redirect_to_login_and_back_after_signing_in(web: Inventory) -> None:
    b = browser(web.ctx, web)
    for path in ("/", "/events?type=x", "/cameras", "/users", "/events/abc"):
        got = b.get(path)
        assert got.status_code == 303, path
        assert got.headers["location"].startswith("/login?next=%2F"), got.headers["location"]
    page = b.get("/login?next=/events%3Ftype%3Dx")
    signed = b.client.post(
        "/login",
        data={
            "email": web.a.admin.email,
            "password": PASSWORD,
            "csrf_token": csrf_of(page.text),
            "next": "/events?type=x",
        },
        follow_redirects=False,
    )
    assert signed.status_code == 303 and signed.headers["location"] == "/events?type=x"
    assert b.get("/events").status_code == 200


def test_login_cookies_are_httponly_lax_and_secure_over_https(web: Inventory) -> None:
    b = browser(web.ctx, web)
    page = b.get("/login")
    csrf = _cookie_headers(page)[CSRF_COOKIE].lower()
    assert "httponly" in csrf and "samesite=lax" in csrf and "secure" in csrf
    got = b.client.post(
        "/login",
        data={"email": web.a.admin.email, "password": PASSWORD, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    cookies = _cookie_headers(got)
    for name in (ACCESS_COOKIE, REFRESH_COOKIE):
        flags = cookies[name].lower()
        assert "httponly" in flags and "samesite=lax" in flags and "secure" in flags, flags
    plain = sign_in(web.ctx, web, web.a.viewer, https=False)
    assert plain.client.cookies.get(ACCESS_COOKIE)  # no Secure flag over plain http
    page = plain.get("/login")
    assert "secure" not in page.headers.get("set-cookie", "").lower()


def test_wrong_password_and_open_redirect_are_refused(web: Inventory) -> None:
    b = browser(web.ctx, web)
    page = b.get("/login")
    form = {"email": web.a.admin.email, "csrf_token": csrf_of(page.text)}
    got = b.client.post("/login", data={**form, "password": "not the password"})
    assert got.status_code == 401
    assert "invalid email or password" in got.text
    assert ACCESS_COOKIE not in b.client.cookies
    got = b.client.post(
        "/login",
        data={**form, "password": PASSWORD, "next": "//evil.example/x"},
        follow_redirects=False,
    )
    assert got.status_code == 303 and got.headers["location"] == "/"


def test_posts_without_the_csrf_token_are_refused_and_change_nothing(web: Inventory) -> None:
    event_id = web.ingest(web.a.summary())[0]["id"]
    b = sign_in(web.ctx, web, web.a.admin)
    form = {"comment": "sneaky"}
    assert b.post(f"/events/{event_id}/notes", form, csrf="").status_code == 403
    assert b.post(f"/events/{event_id}/notes", form, csrf="forged-token").status_code == 403
    # A login form posted from another site (no CSRF cookie) is refused too.
    stranger = browser(web.ctx, web)
    got = stranger.client.post(
        "/login",
        data={"email": web.a.admin.email, "password": PASSWORD, "csrf_token": "x"},
    )
    assert got.status_code == 403 and ACCESS_COOKIE not in stranger.client.cookies
    detail = web.get(web.a.admin, f"/api/v1/events/{event_id}").json()
    assert detail["notes"] == []
    assert b.post(f"/events/{event_id}/notes", form).status_code == 303
    assert [
        n["comment"] for n in web.get(web.a.admin, f"/api/v1/events/{event_id}").json()["notes"]
    ] == ["sneaky"]


def test_an_expired_access_token_is_refreshed_transparently(web: Inventory) -> None:
    b = sign_in(web.ctx, web, web.a.admin)
    old_refresh = b.client.cookies.get(REFRESH_COOKIE)
    clock = web.ctx.clock
    assert isinstance(clock, Clock)
    clock.now += web.ctx.settings.auth.access_token_seconds + 120
    got = b.get("/events")
    assert got.status_code == 200
    assert set(_cookie_headers(got)) >= {ACCESS_COOKIE, REFRESH_COOKIE}
    # A second request racing with the old cookies gets the same rotation, not a reuse
    # that would revoke the session.
    racer = browser(web.ctx, web)
    racer.client.cookies.set(REFRESH_COOKIE, old_refresh or "")
    assert racer.get("/events").status_code == 200
    assert b.get("/").status_code == 200
    # Once the refresh token has expired too, the user signs in again.
    clock.now += web.ctx.settings.auth.refresh_token_seconds + 60
    got = b.get("/")
    assert got.status_code == 303 and got.headers["location"].startswith("/login")


def test_logout_revokes_the_session(web: Inventory) -> None:
    b = sign_in(web.ctx, web, web.a.admin)
    stolen = dict(b.client.cookies)
    got = b.post("/logout", {})
    assert got.status_code == 303 and got.headers["location"].startswith("/login")
    assert b.get("/").status_code == 303
    # The refresh token of the ended session no longer works anywhere.
    refreshed = web.client.post(
        "/api/v1/auth/refresh", json={"refresh_token": stolen[REFRESH_COOKIE]}
    )
    assert refreshed.status_code == 401
