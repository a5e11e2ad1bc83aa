"""``guardian bench inventory``: the event timeline through the API vs the same SQL run
directly with psycopg, and summary ingest throughput — on PostgreSQL, in one run.

Events are bulk-loaded with ``INSERT … SELECT generate_series`` across 10 tenants; the API
runs as ``guardian control run`` (uvicorn) in a child process and is called over loopback
with real access tokens. The direct query is the very statement the API sends for the
same filter (``timeline_statement``: SQLAlchemy's SQL for it), run in a transaction with the
same role and tenant setting as an API session.
"""

from __future__ import annotations

import datetime as dt
import gc
import http.client
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import psycopg

from guardian.bench.stats import Goal, percentile
from guardian.control.config import ControlSettings
from guardian.control.context import ControlContext, build_context
from guardian.control.db import TENANT_SETTING
from guardian.control.inventory.queries import EventFilter, timeline_statement
from guardian.control.store.tables import Camera, Site, Tenant
from guardian.edge.launch import free_port

P99_MS_TARGET = 50.0
P99_RATIO_TARGET = 3.0
TENANTS = 10
CAMERAS = 4
PAGE = 50
SPACING_S = 30  # between consecutive events of one tenant
TYPES = ("interaction_detected", "person_detected", "vehicle_detected")
PASSWORD = "bench password, not a secret"
INGEST_BATCH = 500
INGEST_CLIENTS = 4


@dataclass(frozen=True)
class Fixture:
    """What was loaded: per tenant its site, cameras (id, edge name) and an admin email."""

    tenant_ids: list[str]
    site_ids: list[str]
    cameras: list[list[tuple[str, str]]]
    emails: list[str]
    relay_token: str
    newest: dt.datetime
    per_tenant: int


_LOAD_SQL = """
INSERT INTO events (id, tenant_id, site_id, camera_id, source_kind, source_name, type, label,
    zone, dwell_s, person_count, confidence, state, started_at, ended_at, version, has_notes,
    search_text, created_at, updated_at)
SELECT gen_random_uuid()::text, %(tenant)s, %(site)s, (%(cams)s::text[])[1 + g %% 4],
    'camera', (%(names)s::text[])[1 + g %% 4], (%(types)s::text[])[1 + (g / 4) %% 3],
    'person', 'shelf', (g %% 60)::float8, 1 + g %% 3, 'high', 'ended',
    %(newest)s - make_interval(secs => g * %(spacing)s),
    %(newest)s - make_interval(secs => g * %(spacing)s - 5), 1, false,
    replace((%(types)s::text[])[1 + (g / 4) %% 3], '_', ' ') || ' | person | shelf | '
        || (%(names)s::text[])[1 + g %% 4],
    now(), now()
FROM generate_series(0, %(n)s - 1) AS g
"""


def load(ctx: ControlContext, pg_url: str, total: int) -> Fixture:
    """Tenants, sites, cameras, one admin each, a relay for all, and ``total`` events."""
    from guardian.control.auth.users import create_user
    from guardian.control.tenancy.relays import assign_relay, create_relay

    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    tenant_ids, site_ids, cameras, emails = [], [], [], []
    with ctx.db.system() as session:
        relay, relay_token = create_relay(session, name="bench-relay", url="https://relay.bench")
        for t in range(TENANTS):
            tenant = Tenant(id=str(uuid.uuid4()), name=f"bench-{t}", plan="free", created_at=now)
            site = Site(id=str(uuid.uuid4()), tenant_id=tenant.id, name="shop", created_at=now)
            session.add(tenant)
            session.flush()
            session.add(site)
            session.flush()
            cams = [(str(uuid.uuid4()), f"cam{c}") for c in range(CAMERAS)]
            for cam_id, name in cams:
                session.add(
                    Camera(id=cam_id, tenant_id=tenant.id, site_id=site.id, edge_name=name,
                           labels=[], created_at=now, updated_at=now)
                )  # fmt: skip
            email = f"admin-{t}@bench.example"
            create_user(session, tenant_id=tenant.id, email=email, role="admin", password=PASSWORD)
            session.flush()
            assign_relay(session, tenant_id=tenant.id, relay_id=relay.id)
            tenant_ids.append(tenant.id)
            site_ids.append(site.id)
            cameras.append(cams)
            emails.append(email)
    per_tenant = total // TENANTS
    with psycopg.connect(pg_url) as conn:
        for tenant_id, site_id, cams in zip(tenant_ids, site_ids, cameras, strict=True):
            params = {
                "tenant": tenant_id,
                "site": site_id,
                "cams": [c[0] for c in cams],
                "names": [c[1] for c in cams],
                "types": list(TYPES),
                "newest": now,
                "spacing": SPACING_S,
                "n": per_tenant,
            }
            conn.execute(_LOAD_SQL, params)
        conn.commit()
        conn.execute("ANALYZE events")
    return Fixture(tenant_ids, site_ids, cameras, emails, relay_token, now, per_tenant)


def filters(fx: Fixture, count: int) -> list[tuple[int, EventFilter]]:
    """``count`` timeline filters (type + camera + a 7-day window), cycling over tenants."""
    span = dt.timedelta(seconds=fx.per_tenant * SPACING_S)
    out = []
    for i in range(count):
        t = i % TENANTS
        until = fx.newest - span * ((i * 7) % 10) / 20  # windows across the first half
        out.append(
            (t, EventFilter(
                camera_id=fx.cameras[t][i % CAMERAS][0],
                type=TYPES[(i // TENANTS) % len(TYPES)],
                since=until - dt.timedelta(days=7),
                until=until,
            ))
        )  # fmt: skip
    return out


def api_params(f: EventFilter) -> dict[str, str]:
    """The query string of ``GET /api/v1/events`` for a filter, page of ``PAGE``."""
    assert f.camera_id and f.type and f.since and f.until
    return {
        "camera": f.camera_id,
        "type": f.type,
        "since": f.since.isoformat(),
        "until": f.until.isoformat(),
        "limit": str(PAGE),
    }


def capture_sql(ctx: ControlContext, tenant_id: str, f: EventFilter) -> tuple[str, Any]:
    """The SELECT (and parameters) ``GET /api/v1/events`` sends PostgreSQL for this page."""
    return timeline_statement(ctx.db.engine.dialect, tenant_id, f, limit=PAGE)


@contextmanager
def control_process(settings: ControlSettings, env: dict[str, str]) -> Iterator[str]:
    """``guardian control run`` on a free loopback port; yields its base URL."""
    port = free_port()
    cmd = [sys.executable, "-m", "guardian", "control", "run", "--port", str(port)]
    cmd += ["--data-dir", str(settings.data_dir)]
    cmd += ["--database-url", settings.resolved_database_url()]
    proc = subprocess.Popen(cmd, env={**os.environ, **env}, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                raise RuntimeError(f"guardian control run exited with {proc.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError("guardian control run not healthy within 60 s")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        proc.wait(30)


class KeepAliveClient:
    """GET over one keep-alive HTTP/1.1 connection with the standard library.

    The timed client: its own cost per request is ~0.1 ms where httpx's is ~0.4 ms, which
    would otherwise be a large part of a few-millisecond API figure (the direct side's
    client is libpq). ``get`` returns once the whole body has arrived.
    """

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self._conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)

    def get(self, path: str, headers: dict[str, str] | None = None) -> bytes:
        self._conn.request("GET", path, headers=headers or {})
        response = self._conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"GET {path.partition('?')[0]} answered {response.status}")
        return body

    def close(self) -> None:
        self._conn.close()


def time_timeline(
    ctx: ControlContext, url: str, pg_url: str, fx: Fixture, requests: int
) -> tuple[list[float], list[float], list[float], list[float], int]:
    """API, direct SELECT, direct transaction and ``/healthz`` latencies (ms), API and direct
    alternating request by request; and the rows the API pages held.

    An API sample runs from sending the request to the last byte of the response (the JSON
    is parsed after the clock stops, as the direct side's rows are fetched, not used).
    """
    specs = filters(fx, requests)
    captured = {i: capture_sql(ctx, fx.tenant_ids[t], f) for i, (t, f) in enumerate(specs)}
    api_ms: list[float] = []
    direct_ms: list[float] = []
    floor_ms: list[float] = []  # /healthz: HTTP + one trivial query, no auth
    txn_ms_all: list[float] = []  # the direct SELECT with its transaction and role set-up
    bodies: list[bytes] = []
    with httpx.Client(base_url=url, timeout=30) as login_client:
        tokens = [login(login_client, email) for email in fx.emails]
    client = KeepAliveClient(url)
    try:
        with psycopg.connect(pg_url) as conn:
            for _ in range(50):
                start = time.perf_counter()
                client.get("/healthz")
                floor_ms.append((time.perf_counter() - start) * 1000)
            for warm in range(2):  # first calls pay for connections and plans, on both sides
                for i, (t, f) in enumerate(specs[: TENANTS * 2]):
                    client.get(api_path(f), _bearer(tokens[t]))
                    _direct(conn, ctx.db.app_role, fx.tenant_ids[t], *captured[i])
                del warm
            with _client_gc_paused():
                for i, (t, f) in enumerate(specs):
                    path, headers = api_path(f), _bearer(tokens[t])
                    start = time.perf_counter()
                    body = client.get(path, headers)
                    api_ms.append((time.perf_counter() - start) * 1000)
                    select_ms, txn_ms = _direct(
                        conn, ctx.db.app_role, fx.tenant_ids[t], *captured[i]
                    )
                    direct_ms.append(select_ms)
                    txn_ms_all.append(txn_ms)
                    bodies.append(body)
            rows = sum(len(json.loads(body)["items"]) for body in bodies)
    finally:
        client.close()
    return api_ms, direct_ms, txn_ms_all, floor_ms, rows


@contextmanager
def _client_gc_paused() -> Iterator[None]:
    """No garbage collection in this (client) process while it times requests: a pause of
    the client's own would be counted against whichever side it fell on.
    """
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def login(client: httpx.Client, email: str) -> str:
    got = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    got.raise_for_status()
    return str(got.json()["access_token"])


def api_path(f: EventFilter) -> str:
    """``/api/v1/events?…`` for a filter."""
    return "/api/v1/events?" + urlencode(api_params(f))


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _direct(
    conn: psycopg.Connection[Any], role: str, tenant_id: str, sql: str, params: Any
) -> tuple[float, float]:
    """Run the captured SELECT as an API session would (role + tenant setting).

    Returns the SELECT's own time and the whole transaction's (BEGIN, SET LOCAL ROLE,
    set_config, SELECT, COMMIT), both in ms.
    """
    begin = time.perf_counter()
    with conn.transaction():
        conn.execute(f"SET LOCAL ROLE {role}")
        conn.execute("SELECT set_config(%s, %s, true)", (TENANT_SETTING, tenant_id))
        start = time.perf_counter()
        conn.execute(sql, params).fetchall()
        select_ms = (time.perf_counter() - start) * 1000
    return select_ms, (time.perf_counter() - begin) * 1000


def ingest_per_s(url: str, fx: Fixture, total: int) -> tuple[float, dict[str, int]]:
    """New event summaries through ``POST /api/v1/ingest/events``: created/s and statuses."""
    batches = []
    start_at = fx.newest + dt.timedelta(hours=1)
    for b in range(max(1, total // INGEST_BATCH)):
        t = b % TENANTS
        batch = []
        for i in range(INGEST_BATCH):
            at = start_at + dt.timedelta(seconds=b * INGEST_BATCH + i)
            batch.append({
                "id": str(uuid.uuid4()), "tenant_id": fx.tenant_ids[t],
                "site_id": fx.site_ids[t], "source_kind": "camera",
                "source_name": fx.cameras[t][i % CAMERAS][1], "type": TYPES[i % len(TYPES)],
                "label": "person", "zone": "shelf", "dwell_s": 3.5, "person_count": 1,
                "confidence": "high", "state": "ended", "started_at": at.isoformat(),
                "ended_at": (at + dt.timedelta(seconds=5)).isoformat(), "version": 1,
            })  # fmt: skip
        batches.append(batch)
    statuses: dict[str, int] = {}
    headers = {"Authorization": f"Bearer {fx.relay_token}"}

    def send(batch: list[dict[str, Any]]) -> list[str]:
        with httpx.Client(base_url=url, timeout=120, headers=headers) as client:
            got = client.post("/api/v1/ingest/events", json={"events": batch})
            got.raise_for_status()
            return [r["status"] for r in got.json()["results"]]

    start = time.perf_counter()
    with ThreadPoolExecutor(INGEST_CLIENTS) as pool:
        for results in pool.map(send, batches):
            for status in results:
                statuses[status] = statuses.get(status, 0) + 1
    elapsed = time.perf_counter() - start
    return statuses.get("created", 0) / elapsed, statuses


def run_inventory_bench(
    pg_url: str, *, events: int, requests: int, ingest_events: int
) -> dict[str, Any]:
    """The whole run on the (empty, temporary) database ``pg_url``; the JSON report."""
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not one line per request
    with tempfile.TemporaryDirectory(prefix="guardian-bench-") as tmp:
        settings = ControlSettings(data_dir=Path(tmp) / "control", database_url=pg_url)
        ctx = build_context(settings)
        try:
            start = time.perf_counter()
            fx = load(ctx, pg_url, events)
            load_s = time.perf_counter() - start
            env = {
                "GUARDIAN_CONTROL_HTTP__RATE_PER_SECOND": "1000000",
                "GUARDIAN_CONTROL_HTTP__RATE_BURST": "1000000",
                "GUARDIAN_LOG_LEVEL": "WARNING",
                # The relay link is not exercised; a free port so the run never collides.
                "GUARDIAN_CONTROL_GRPC_PORT": str(free_port()),
            }
            with control_process(settings, env) as url:
                api_ms, direct_ms, txn_ms, floor_ms, rows = time_timeline(
                    ctx, url, pg_url, fx, requests
                )
                ingest, statuses = ingest_per_s(url, fx, ingest_events)
        finally:
            ctx.db.dispose()
    api_p99, direct_p99 = percentile(api_ms, 99), percentile(direct_ms, 99)
    ratio = api_p99 / direct_p99
    goals: list[Goal] = [
        {"name": "timeline_p99_ms", "value": round(api_p99, 3), "target": P99_MS_TARGET,
         "better": "lower"},
        {"name": "timeline_p99_ratio", "value": round(ratio, 3), "target": P99_RATIO_TARGET,
         "better": "lower"},
    ]  # fmt: skip
    return {
        "bench": "inventory",
        "db": "postgres",
        "events": fx.per_tenant * TENANTS,
        "tenants": TENANTS,
        "load_s": round(load_s, 2),
        "timeline_requests": requests,
        "timeline_rows_mean": round(rows / max(1, requests), 1),
        "page": PAGE,
        "api_ms_p50": round(percentile(api_ms, 50), 3),
        "api_ms_p99": round(api_p99, 3),
        "direct_ms_p50": round(percentile(direct_ms, 50), 3),
        "direct_ms_p99": round(direct_p99, 3),
        "direct_txn_ms_p50": round(percentile(txn_ms, 50), 3),
        "direct_txn_ms_p99": round(percentile(txn_ms, 99), 3),
        "healthz_ms_p50": round(percentile(floor_ms, 50), 3),
        "healthz_ms_p99": round(percentile(floor_ms, 99), 3),
        "ingest_events": sum(statuses.values()),
        "ingest_statuses": statuses,
        "ingest_events_per_s": round(ingest, 1),
        "goals": goals,
    }
