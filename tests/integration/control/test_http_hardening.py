"""HTTP hardening of the control plane: headers, CORS, rate limits, request ids, ops."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from guardian.common.db import create_db_engine
from guardian.common.seal import Sealer
from guardian.control.api import middleware, ops
from guardian.control.api.middleware import (
    LOGIN_BURST,
    LOGIN_PATH,
    RATE_LIMITED_MESSAGE,
    RATE_LIMITS,
    RateLimits,
    TokenBuckets,
)
from guardian.control.app import create_app
from guardian.control.context import ControlContext, build_context
from guardian.control.db import Database
from tests.control_fixtures import control_settings


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def client(sqlite_control_ctx: ControlContext) -> Iterator[TestClient]:
    with TestClient(create_app(sqlite_control_ctx)) as c:
        yield c


def limited_ctx(tmp_path: Path, clock: FakeClock, rate: float, burst: int) -> ControlContext:
    ctx = build_context(
        control_settings(tmp_path, http={"rate_per_second": rate, "rate_burst": burst})
    )
    ctx.services[RATE_LIMITS] = RateLimits.from_settings(ctx.settings.http, clock)
    return ctx


# --- token buckets (pure) -------------------------------------------------------------


def test_bucket_allows_the_burst_then_says_how_long_to_wait() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(rate=2.0, burst=3, clock=clock)
    assert [buckets.acquire("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.acquire("a") == pytest.approx(0.5)
    assert buckets.acquire("b") == 0.0  # another caller has its own bucket
    clock.now += 0.5
    assert buckets.acquire("a") == 0.0
    assert buckets.acquire("a") == pytest.approx(0.5)


def test_refused_calls_do_not_push_the_next_allowed_one_further_out() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(rate=1.0, burst=1, clock=clock)
    assert buckets.acquire("a") == 0.0
    for _ in range(5):
        assert buckets.acquire("a") == pytest.approx(1.0)
    clock.now += 1.0
    assert buckets.acquire("a") == 0.0


def test_bucket_memory_is_bounded_by_dropping_the_least_recently_used() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(rate=1.0, burst=1, clock=clock, max_keys=2)
    buckets.acquire("a")
    buckets.acquire("b")
    buckets.acquire("a")  # refused, but "a" is now the most recent
    buckets.acquire("c")  # evicts "b"
    assert len(buckets) == 2
    assert buckets.acquire("a") > 0  # "a" kept its empty bucket
    assert buckets.acquire("b") == 0.0  # "b" was forgotten and starts full


def test_a_clock_stepping_back_neither_drains_nor_overfills() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(rate=1.0, burst=2, clock=clock)
    buckets.acquire("a")
    clock.now -= 100
    assert buckets.acquire("a") == 0.0
    assert buckets.acquire("a") > 0


# --- headers ---------------------------------------------------------------------------


def test_api_responses_carry_security_headers_and_no_store(client: TestClient) -> None:
    got = client.get("/api/v1/no-such-thing")
    assert got.status_code == 404
    assert got.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["referrer-policy"] == "no-referrer"
    assert got.headers["x-frame-options"] == "DENY"
    assert got.headers["cache-control"] == "no-store"
    assert "strict-transport-security" not in got.headers  # plain http


def test_hsts_only_over_https(sqlite_control_ctx: ControlContext) -> None:
    with TestClient(create_app(sqlite_control_ctx), base_url="https://control.test") as c:
        got = c.get("/healthz")
    assert got.headers["strict-transport-security"].startswith("max-age=")


def test_ops_and_docs_have_headers_but_docs_may_load_their_scripts(client: TestClient) -> None:
    health = client.get("/healthz")
    assert health.headers["x-frame-options"] == "DENY"
    assert "cache-control" not in health.headers  # no-store is for /api
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "script-src" in docs.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in docs.headers["content-security-policy"]


def test_request_id_is_echoed_when_sane_and_generated_otherwise(client: TestClient) -> None:
    given = client.get("/healthz", headers={"X-Request-Id": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    hostile = client.get("/healthz", headers={"X-Request-Id": "a b\tc" + "x" * 100})
    made = hostile.headers["x-request-id"]
    assert len(made) == 32 and made.isalnum()
    assert client.get("/healthz").headers["x-request-id"] != made


# --- CORS --------------------------------------------------------------------------------


def test_no_cors_by_default(client: TestClient) -> None:
    got = client.get("/healthz", headers={"Origin": "https://app.example"})
    assert "access-control-allow-origin" not in got.headers


def test_cors_allows_configured_origins_only(tmp_path: Path) -> None:
    settings = control_settings(tmp_path, http={"cors_origins": ["https://app.example"]})
    ctx = build_context(settings)
    try:
        with TestClient(create_app(ctx)) as c:
            preflight = c.options(
                "/api/v1/events",
                headers={
                    "Origin": "https://app.example",
                    "Access-Control-Request-Method": "GET",
                    "Access-Control-Request-Headers": "authorization",
                },
            )
            assert preflight.status_code == 200
            assert preflight.headers["access-control-allow-origin"] == "https://app.example"
            assert preflight.headers["x-frame-options"] == "DENY"
            other = c.options(
                "/api/v1/events",
                headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
            )
            assert other.status_code == 400
            assert "access-control-allow-origin" not in other.headers
            simple = c.get("/healthz", headers={"Origin": "https://app.example"})
            assert simple.headers["access-control-allow-origin"] == "https://app.example"
            assert "x-request-id" in simple.headers["access-control-expose-headers"].lower()
    finally:
        ctx.db.dispose()


# --- rate limits --------------------------------------------------------------------------


def test_rate_limit_answers_429_json_with_retry_after(tmp_path: Path) -> None:
    clock = FakeClock()
    ctx = limited_ctx(tmp_path, clock, rate=0.5, burst=3)
    try:
        with TestClient(create_app(ctx)) as c:
            statuses = [c.get("/api/v1/no-such-thing").status_code for _ in range(3)]
            assert statuses == [404, 404, 404]
            refused = c.get("/api/v1/no-such-thing")
            assert refused.status_code == 429
            assert refused.headers["retry-after"] == "2"
            assert refused.json()["error"]["code"] == "rate_limited"
            assert refused.headers["x-frame-options"] == "DENY"
            assert c.get("/healthz").status_code == 200  # ops paths are not limited
            clock.now += 2
            assert c.get("/api/v1/no-such-thing").status_code == 404
    finally:
        ctx.db.dispose()


def test_each_bearer_token_has_its_own_bucket(tmp_path: Path) -> None:
    clock = FakeClock()
    ctx = limited_ctx(tmp_path, clock, rate=1, burst=2)
    try:
        with TestClient(create_app(ctx)) as c:
            alice = {"Authorization": "Bearer token-of-alice"}
            bob = {"Authorization": "Bearer token-of-bob"}
            assert [c.get("/api/v1/x", headers=alice).status_code for _ in range(2)] == [404] * 2
            assert c.get("/api/v1/x", headers=alice).status_code == 429
            assert c.get("/api/v1/x", headers=bob).status_code == 404
            assert c.get("/api/v1/x").status_code == 404  # anonymous: the address's bucket
    finally:
        ctx.db.dispose()


def test_rotating_made_up_tokens_hits_the_address_ceiling(tmp_path: Path) -> None:
    clock = FakeClock()
    ctx = limited_ctx(tmp_path, clock, rate=1, burst=2)
    try:
        with TestClient(create_app(ctx)) as c:
            statuses = [
                c.get("/api/v1/x", headers={"Authorization": f"Bearer fake-{i}"}).status_code
                for i in range(25)
            ]
        assert statuses[:20] == [404] * 20  # the ceiling is 10 x the burst
        assert set(statuses[20:]) == {429}
    finally:
        ctx.db.dispose()


def test_login_has_a_stricter_per_address_limit(tmp_path: Path) -> None:
    clock = FakeClock()
    ctx = limited_ctx(tmp_path, clock, rate=1000, burst=1000)
    try:
        with TestClient(create_app(ctx)) as c:
            # The auth module's own failure throttling may answer 429 first; this limit is
            # the middleware's, recognised by its message, and counts every attempt.
            def attempt(i: int) -> tuple[int, str]:
                body = {"email": f"nobody{i}@example.com", "password": "wrong password"}
                got = c.post(LOGIN_PATH, json=body)
                return got.status_code, got.json()["error"]["message"]

            first = [attempt(i) for i in range(LOGIN_BURST)]
            assert RATE_LIMITED_MESSAGE not in [message for _, message in first]
            refused = c.post(LOGIN_PATH, json={"email": "x@example.com", "password": "y"})
            assert refused.status_code == 429
            assert refused.json()["error"]["message"] == RATE_LIMITED_MESSAGE
            assert int(refused.headers["retry-after"]) == 6
            assert c.get("/api/v1/x").status_code == 404  # other routes are unaffected
    finally:
        ctx.db.dispose()


# --- metrics, logs, health -----------------------------------------------------------------


def test_metrics_count_requests_by_route_template_and_status(client: TestClient) -> None:
    client.get("/healthz")
    client.get("/api/v1/no-such-thing")
    got = client.get("/metrics")
    assert got.status_code == 200
    assert got.headers["content-type"].startswith("text/plain")
    text = got.text
    assert (
        'guardian_control_http_request_duration_seconds_count{method="GET",route="/healthz",'
        'status="200"} 1.0' in text
    )
    assert 'route="unmatched",status="404"' in text
    assert "no-such-thing" not in text


def ops_app(ctx: ControlContext) -> FastAPI:
    """Only the ops routes and the middleware (no other feature's startup hooks)."""
    app = FastAPI()
    app.state.ctx = ctx
    app.include_router(ops.router)
    middleware.install(app, ctx)
    return app


def test_two_apps_on_one_context_share_the_metrics(sqlite_control_ctx: ControlContext) -> None:
    with TestClient(ops_app(sqlite_control_ctx)) as a, TestClient(ops_app(sqlite_control_ctx)) as b:
        a.get("/healthz")
        b.get("/healthz")
        assert 'route="/healthz",status="200"} 2.0' in b.get("/metrics").text


def test_access_log_names_the_route_and_leaks_no_secret(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    secret_token = "eyJhbGciOiJSUzI1NiJ9.secret-token-value"
    password = "hunter2-very-secret"
    email = "private.person@example.com"
    with caplog.at_level(logging.DEBUG):
        client.get(
            "/api/v1/events?q=private.person@example.com",
            headers={"Authorization": f"Bearer {secret_token}", "X-Request-Id": "req-1"},
        )
        client.post(LOGIN_PATH, json={"email": email, "password": password})
    access = [r for r in caplog.records if r.name == "guardian.control.api.middleware"]
    assert access, "no access log line"
    first = access[0].__dict__
    assert first["request_id"] == "req-1"
    assert first["method"] == "GET" and first["status"] in (401, 404)
    server_side = [r for r in caplog.records if not r.name.startswith("httpx")]  # not the client
    for record in server_side:
        flat = repr(record.__dict__) + record.getMessage()
        for leaked in (secret_token, password, email):
            assert leaked not in flat, f"{record.name} logged {leaked!r}"


def test_healthz_ok(client: TestClient) -> None:
    got = client.get("/healthz")
    assert got.status_code == 200
    assert got.json() == {"status": "ok", "database": "ok"}


def test_healthz_503_when_the_database_is_unreachable(tmp_path: Path) -> None:
    good = build_context(control_settings(tmp_path))
    good.db.dispose()
    # A PostgreSQL port nothing listens on: connecting fails at once.
    engine = create_db_engine("postgresql+psycopg://nobody@127.0.0.1:9/none")
    ctx = ControlContext(good.settings, Database(engine), Sealer(b"k" * 32))
    app = FastAPI()
    app.state.ctx = ctx
    app.include_router(ops.router)
    try:
        with TestClient(app) as c:
            got = c.get("/healthz")
        assert got.status_code == 503
        assert got.json() == {"status": "unavailable", "database": "unreachable"}
    finally:
        engine.dispose()
