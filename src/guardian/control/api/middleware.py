"""Control plane HTTP middleware: request ids, metrics, security headers, CORS, rate limits.

All of it is plain ASGI (no ``BaseHTTPMiddleware``), so streamed responses such as the
Server-Sent Events feed pass through untouched. Outermost first: ``ObserveMiddleware``
(request id, access log, latency histogram), ``SecurityHeadersMiddleware``, Starlette's
``CORSMiddleware`` (only when origins are configured), ``RateLimitMiddleware``, the app.
The pieces they are made of (``RateLimits.check``, ``request_id_of``, ``finish_headers``,
``observed``) are public for the timeline's fast path, which answers in front of this
stack and must do for its requests what these layers do (``api.events.TimelineFastPath``).
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass

from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Histogram
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from guardian.common.api_errors import TooManyRequests
from guardian.control.config import HttpSettings
from guardian.control.context import ControlContext

logger = logging.getLogger(__name__)

RATE_LIMITS = "rate_limits"  # ctx.services key of the RateLimits (tests may pre-seed one)
HTTP_METRICS = "http_metrics"  # ctx.services key of the request-latency Histogram
LOGIN_PATH = "/api/v1/auth/login"
# Per address, on top of the auth module's per-account and per-address failure throttling:
# a burst of 30 attempts, then one every 6 s.
LOGIN_RATE_PER_SECOND = 10 / 60
LOGIN_BURST = 30
# A caller's address may spend this many times a single token's allowance, so rotating
# made-up bearer tokens does not buy unlimited fresh buckets.
ADDRESS_CEILING_FACTOR = 10
REQUEST_ID_HEADER = "X-Request-Id"
# Scope key: the rate limits' answer for this request (seconds to wait, 0.0 to go ahead),
# set by a layer in front of the stack that consulted them, so no request is counted twice.
RATE_WAIT = "guardian.rate_wait"
RATE_LIMITED_MESSAGE = "too many requests; retry later"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

API_CSP = "default-src 'none'; frame-ancestors 'none'"
# Swagger UI and ReDoc load their script and style from jsdelivr and start with an inline
# script; everything else stays denied.
DOCS_CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src https://fonts.gstatic.com; img-src 'self' data: https://fastapi.tiangolo.com "
    "https://cdn.redoc.ly; connect-src 'self'; worker-src blob:; frame-ancestors 'none'"
)
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})
CORS_HEADERS = ("Authorization", "Content-Type", "Last-Event-ID", REQUEST_ID_HEADER)

request_id_var: ContextVar[str | None] = ContextVar("guardian_request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request being handled (``X-Request-Id``), for log records."""
    return request_id_var.get()


class TokenBuckets:
    """Token bucket per key: ``rate`` tokens/s up to ``burst``; thread-safe, bounded memory.

    At most ``max_keys`` buckets are kept; the least recently used one is dropped first
    (a dropped caller starts again with a full bucket).
    """

    def __init__(
        self,
        rate: float,
        burst: float,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        if rate <= 0 or burst <= 0 or max_keys <= 0:
            raise ValueError("rate, burst and max_keys must be positive")
        self.rate, self.burst, self.max_keys = rate, float(burst), max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, at
        self._lock = threading.Lock()

    def acquire(self, key: str) -> float:
        """Take one token from ``key``'s bucket: 0.0 when allowed, else seconds to wait.

        A refused call takes nothing, so it does not push the next allowed call further out.
        """
        with self._lock:
            now = self._clock()
            tokens, at = self._buckets.pop(key, (self.burst, now))
            # max(): a clock that steps back must neither drain nor overfill the bucket.
            tokens = min(self.burst, tokens + max(0.0, now - at) * self.rate)
            wait = 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate
            self._buckets[key] = (tokens - 1.0 if wait == 0.0 else tokens, now)
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
            return wait

    def __len__(self) -> int:
        return len(self._buckets)


@dataclass
class RateLimits:
    """The limiters the middleware consults (one set per app context)."""

    api: TokenBuckets
    address: TokenBuckets
    login: TokenBuckets

    @classmethod
    def from_settings(
        cls, http: HttpSettings, clock: Callable[[], float] = time.monotonic
    ) -> RateLimits:
        factor = ADDRESS_CEILING_FACTOR
        return cls(
            api=TokenBuckets(http.rate_per_second, http.rate_burst, clock),
            address=TokenBuckets(http.rate_per_second * factor, http.rate_burst * factor, clock),
            login=TokenBuckets(LOGIN_RATE_PER_SECOND, LOGIN_BURST, clock),
        )

    def check(self, method: str, path: str, address: str, token: str | None) -> float:
        """Seconds the caller must wait (0.0: go ahead) for one request to ``path``."""
        if method == "POST" and path == LOGIN_PATH:
            return self.login.acquire(address)
        if token is None:
            return self.api.acquire("addr:" + address)
        wait = self.address.acquire(address)
        if wait:
            return wait
        return self.api.acquire("token:" + hashlib.sha256(token.encode()).hexdigest()[:32])


def retry_after(wait_seconds: float) -> str:
    """``Retry-After`` value: whole seconds, rounded up, at least 1."""
    return str(max(1, math.ceil(wait_seconds)))


def bearer_of(headers: Headers) -> str | None:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


class RateLimitMiddleware:
    """429 with ``Retry-After`` once a caller's bucket is empty (``/api/`` paths only)."""

    def __init__(self, app: ASGIApp, limits: RateLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith("/api/"):
            await self.app(scope, receive, send)
            return
        wait = scope.get(RATE_WAIT)  # decided by a front layer, which consulted the limits
        if wait is None:
            headers = Headers(scope=scope)
            address, token = client_address(scope), bearer_of(headers)
            wait = self.limits.check(scope["method"], path, address, token)
        if not wait:
            await self.app(scope, receive, send)
            return
        seconds = retry_after(wait)
        error = TooManyRequests("too many requests; retry later", retry_after_seconds=int(seconds))
        response = JSONResponse(error.body(), status_code=429, headers={"Retry-After": seconds})
        await response(scope, receive, send)


def security_headers(path: str, https: bool) -> dict[str, str]:
    """The headers every response to ``path`` carries."""
    headers = {
        "Content-Security-Policy": DOCS_CSP if path in DOCS_PATHS else API_CSP,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
        "Cross-Origin-Resource-Policy": "same-origin",
    }
    if https:
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    return headers


def finish_headers(headers: MutableHeaders, path: str, extra: dict[str, str]) -> None:
    """Add ``extra`` (``security_headers``) to a response's headers, and ``Cache-Control:
    no-store`` under ``/api/`` unless the response set its own.
    """
    for name, value in extra.items():
        # The web UI sets its own policy (its pages load the relay's media).
        if name != "Content-Security-Policy" or name not in headers:
            headers[name] = value
    if path.startswith("/api/") and "cache-control" not in headers:
        headers["Cache-Control"] = "no-store"


class SecurityHeadersMiddleware:
    """Security headers on every response; ``Cache-Control: no-store`` under ``/api``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        extra = security_headers(path, scope.get("scheme") == "https")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                finish_headers(MutableHeaders(scope=message), path, extra)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def request_histogram(registry: CollectorRegistry) -> Histogram:
    return Histogram(
        "guardian_control_http_request_duration_seconds",
        "Control plane HTTP requests by method, route template and status.",
        ["method", "route", "status"],
        registry=registry,
        buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
    )


def route_template(scope: Scope) -> str:
    """The matched route's path template (``/api/v1/events/{event_id}``), or ``unmatched``.

    Templates, not raw paths, keep the metric's label set small and ids out of logs.
    """
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"


def request_id_of(headers: Headers) -> str:
    """The caller's ``X-Request-Id`` when it is a plain token, else a fresh one."""
    given = headers.get(REQUEST_ID_HEADER, "")
    return given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


class ObserveMiddleware:
    """Request id (header, log context), one access log line, and the latency histogram.

    The access log names the route template, method, status and duration only: no query
    string, address, header or body, so no token, password or personal data reaches it.
    """

    def __init__(self, app: ASGIApp, histogram: Histogram) -> None:
        self.app = app
        self.histogram = histogram

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        # A front layer that handed this request on may have named it already.
        request_id = state.get("request_id") or request_id_of(Headers(scope=scope))
        state["request_id"] = request_id
        reset = request_id_var.set(request_id)
        status = 500
        start = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - start
            observed(self.histogram, scope["method"], route_template(scope), status, elapsed)
            request_id_var.reset(reset)


def observed(histogram: Histogram, method: str, route: str, status: int, elapsed: float) -> None:
    """Count a finished request in the latency histogram and write its access log line (the
    request id comes from the log context).
    """
    histogram.labels(method, route, str(status)).observe(elapsed)
    if logger.isEnabledFor(logging.INFO):
        line = {
            "request_id": request_id_var.get(),
            "method": method,
            "route": route,
            "status": status,
            "duration_ms": round(elapsed * 1000, 2),
        }
        logger.info("request", extra=line)


def install(app: FastAPI, ctx: ControlContext) -> None:
    """Add the middleware stack to ``app`` (call once every route is included)."""
    limits = ctx.services.setdefault(RATE_LIMITS, RateLimits.from_settings(ctx.settings.http))
    histogram = ctx.services.get(HTTP_METRICS)
    if histogram is None:  # one per registry: a second app on the same context reuses it
        histogram = ctx.services[HTTP_METRICS] = request_histogram(ctx.registry)
    # add_middleware wraps what is there: the last one added runs first.
    app.add_middleware(RateLimitMiddleware, limits=limits)
    if ctx.settings.http.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=ctx.settings.http.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=list(CORS_HEADERS),
            expose_headers=[REQUEST_ID_HEADER, "Retry-After"],
            max_age=600,
        )
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(ObserveMiddleware, histogram=histogram)
