"""``guardian bench link``: events from the edge's outbox to the control plane's database,
through ``guardian edge run`` → ``guardian relay run`` → ``guardian control run`` on loopback.

Throughput (``events_per_s``): ``events`` events are committed at the edge (event row +
outbox row, 100 a transaction, with the edge's own store code) while the edge is not yet
running, as after an outage; then the edge starts and its link drains the backlog.
events/s counts the events committed in the control plane after its first commit over the
time to its last (arrival times are the control plane's ``events.created_at``), so process
start-up is not counted. The edge's own commit rate (``edge_commit_events_per_s``) and the
rate with the events written while the link runs (``concurrent_events_per_s``, bounded by
that commit rate on a small box) are reported beside it.
Latency: a steady 100 events/s, one transaction per event, for ``steady_seconds``; each
event's latency is the control plane's ``events.created_at`` minus its edge commit time
(one clock: everything runs on this host).
Baseline, in the same run: the same summaries upserted straight into the control plane's
database with its own ingest code (200 a transaction) — the ceiling the link can approach.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg

from guardian.bench.inventory import control_process
from guardian.bench.stats import Goal, percentile
from guardian.common.db import session_factory, sqlite_url, utcnow
from guardian.control.config import ControlSettings
from guardian.control.context import ControlContext, build_context
from guardian.control.inventory.ingest import upsert_events
from guardian.control.inventory.schemas import EventSummaryIn
from guardian.control.store.tables import Tenant
from guardian.edge.events.camera_store import apply_action
from guardian.edge.launch import edge_process, free_port
from guardian.edge.store.schema import open_store
from guardian.edge.track.lifecycle import INTERACTION, EventAction

EVENTS_PER_S_TARGET = 2000.0
P99_MS_TARGET = 1000.0
STEADY_RATE = 100.0
EDGE_TXN = 100
BASELINE_TXN = 200
START_S = 60.0


def _action(key: str, ts: float) -> EventAction:
    box = (0.1, 0.1, 0.4, 0.9)
    return EventAction(
        kind="end", key=key, event_type=INTERACTION, camera="bench", track_id=1,
        label="person", ts=ts, start_ts=ts - 2.0, end_ts=ts, box=box, best_score=0.8,
        best_ts=ts - 1.0, best_box=box, zones=("shelf",), zone="shelf", dwell_s=2.0,
        person_count=1, peak_person_count=1,
    )  # fmt: skip


class EdgeWriter:
    """Commits camera events into the edge's SQLite store; remembers each commit time."""

    def __init__(self, edge_dir: Path) -> None:
        edge_dir.mkdir(parents=True, exist_ok=True)
        self.engine = open_store(sqlite_url(edge_dir / "edge.db"))
        self.sessions = session_factory(self.engine)
        self.committed: dict[str, float] = {}  # event id -> wall-clock commit time

    def commit(self, count: int) -> None:
        """``count`` events in one transaction."""
        ids = []
        with self.sessions.begin() as session:
            now = dt.datetime.now(dt.UTC)
            for _ in range(count):
                event = apply_action(
                    session, _action(str(uuid.uuid4()), time.time()), now=now, events_days=1
                )
                ids.append(event.id)
        done = time.time()
        self.committed.update(dict.fromkeys(ids, done))


def _commit_burst(writer: EdgeWriter, events: int) -> float:
    """Commit ``events`` events, ``EDGE_TXN`` a transaction; the seconds it took."""
    start = time.perf_counter()
    for i in range(0, events, EDGE_TXN):
        writer.commit(min(EDGE_TXN, events - i))
    return max(time.perf_counter() - start, 1e-6)


def drain_rate(arrivals: list[float], started: float) -> float:
    """Events/s of arrival times: those after the first commit over the time to the last.

    The first commit's events are left out, as its start is unknown; so is everything
    before it (process start-up, the link's connect). When everything arrived in one
    commit (a tiny run), the rate counts from ``started`` instead.
    """
    if not arrivals:
        raise ValueError("no arrivals")
    first, last = min(arrivals), max(arrivals)
    if last <= first:
        return len(arrivals) / max(last - started, 1e-6)
    return sum(1 for t in arrivals if t > first) / (last - first)


def _arrivals(db_url: str, ids: set[str]) -> dict[str, float]:
    """``created_at`` (epoch seconds) of those of ``ids`` in the control plane."""
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT id, created_at FROM events WHERE id = ANY(%s)", (list(ids),)
        ).fetchall()
    return {
        str(i): created.replace(tzinfo=created.tzinfo or dt.UTC).timestamp() for i, created in rows
    }


def _wait_arrivals(db_url: str, ids: set[str], timeout: float) -> dict[str, float]:
    deadline = time.monotonic() + timeout
    while True:
        got = _arrivals(db_url, ids)
        if len(got) == len(ids):
            return got
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {len(got)} of {len(ids)} events arrived in {timeout} s")
        time.sleep(0.2)


@contextmanager
def relay_process(relay_dir: Path, grpc_port: int, token: str) -> Iterator[int]:
    """``guardian relay run`` on free loopback ports; yields its link port once healthy."""
    http_port, link_port = free_port(), free_port()
    env = {
        **os.environ,
        "GUARDIAN_RELAY_DATA_DIR": str(relay_dir),
        "GUARDIAN_RELAY_HTTP_PORT": str(http_port),
        "GUARDIAN_RELAY_LINK_PORT": str(link_port),
        "GUARDIAN_RELAY_CONTROL_URL": f"http://127.0.0.1:{grpc_port}",
        "GUARDIAN_RELAY_CONTROL_TOKEN": token,
    }
    cmd = [sys.executable, "-m", "guardian", "relay", "run"]
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + START_S
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{http_port}/healthz", timeout=1).is_success:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                raise RuntimeError(f"guardian relay run exited with {proc.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"guardian relay run not healthy within {START_S} s")
            time.sleep(0.2)
        yield link_port
    finally:
        proc.terminate()
        proc.wait(30)


def _deployment(ctx: ControlContext) -> tuple[str, str, str, str]:
    """A tenant with a site and a relay: (tenant id, site id, bootstrap token, relay token)."""
    from guardian.control.tenancy.relays import assign_relay, create_relay
    from guardian.control.tenancy.sites import create_site

    with ctx.db.system() as session:
        tenant = Tenant(id=str(uuid.uuid4()), name="bench", plan="free", created_at=utcnow())
        session.add(tenant)
        session.flush()
        site, bootstrap = create_site(session, tenant_id=tenant.id, name="shop", now=utcnow())
        relay, relay_token = create_relay(
            session, name=f"bench-{uuid.uuid4().hex[:8]}", url="https://127.0.0.1"
        )
        assign_relay(session, tenant_id=tenant.id, relay_id=relay.id)
        return tenant.id, site.id, bootstrap, relay_token


def baseline_events_per_s(ctx: ControlContext, count: int) -> float:
    """Upsert ``count`` summaries straight into the control database, 200 a transaction."""
    tenant_id, site_id, _, _ = _deployment(ctx)
    now = dt.datetime.now(dt.UTC)
    summaries = [
        EventSummaryIn(
            id=uuid.uuid4(),
            tenant_id=uuid.UUID(tenant_id),
            site_id=uuid.UUID(site_id),
            source_kind="camera",
            source_name="bench",
            type=INTERACTION,
            label="person",
            zone="shelf",
            dwell_s=2.0,
            person_count=1,
            confidence="high",
            state="ended",
            started_at=now - dt.timedelta(seconds=2),
            ended_at=now,
            version=1,
        )
        for _ in range(count)
    ]
    start = time.perf_counter()
    for i in range(0, count, BASELINE_TXN):
        with ctx.db.system() as session:
            upsert_events(session, tenant_id, summaries[i : i + BASELINE_TXN], utcnow())
    return count / (time.perf_counter() - start)


def run_link_bench(
    pg_url: str, *, events: int = 10_000, steady_seconds: float = 10.0
) -> dict[str, Any]:
    """Run the three services against the PostgreSQL database ``pg_url``; the report."""
    with tempfile.TemporaryDirectory(prefix="guardian-bench-link-") as tmp, ExitStack() as stack:
        root = Path(tmp)
        settings = ControlSettings(data_dir=root / "control", database_url=pg_url)
        ctx = build_context(settings)
        stack.callback(ctx.db.engine.dispose)
        _, _, bootstrap, relay_token = _deployment(ctx)
        grpc_port = free_port()
        stack.enter_context(
            control_process(settings, {"GUARDIAN_CONTROL_GRPC_PORT": str(grpc_port)})
        )
        link_port = stack.enter_context(relay_process(root / "relay", grpc_port, relay_token))
        edge_dir = root / "edge"
        enroll = [sys.executable, "-m", "guardian", "edge", "enroll", "--data-dir", str(edge_dir)]
        enroll += ["--relay", f"127.0.0.1:{link_port}", "--token", bootstrap]
        subprocess.run(enroll, check=True, capture_output=True, timeout=60)
        writer = EdgeWriter(edge_dir)
        stack.callback(writer.engine.dispose)

        # Throughput: a backlog committed while the edge is down, drained by its link.
        backlog = _commit_burst(writer, events)
        edge_commit_rate = events / backlog
        edge_started = time.time()
        stack.enter_context(edge_process(edge_dir))
        arrived = _wait_arrivals(pg_url, set(writer.committed), timeout=60 + events / 100)
        events_per_s = drain_rate(list(arrived.values()), edge_started)

        # The same with the events written while the link runs (the writer's pace bounds it).
        writer.committed.clear()
        start = time.time()
        _commit_burst(writer, events)
        arrived = _wait_arrivals(pg_url, set(writer.committed), timeout=60 + events / 100)
        concurrent = events / max(max(arrived.values()) - start, 1e-6)

        # Latency at a steady rate, one event per transaction.
        writer.committed.clear()
        total = int(steady_seconds * STEADY_RATE)
        t0 = time.monotonic()
        for n in range(total):
            pause = t0 + n / STEADY_RATE - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            writer.commit(1)
        steady = dict(writer.committed)
        arrived = _wait_arrivals(pg_url, set(steady), timeout=60)
        latencies = [max(arrived[i] - steady[i], 0.0) * 1000 for i in steady]

        baseline = baseline_events_per_s(ctx, events)
    p99 = round(percentile(latencies, 99), 1)
    goals: list[Goal] = [
        {"name": "events_per_s", "value": round(events_per_s, 1),
         "target": EVENTS_PER_S_TARGET, "better": "higher"},
        {"name": "p99_latency_ms", "value": p99, "target": P99_MS_TARGET, "better": "lower"},
    ]  # fmt: skip
    return {
        "bench": "link",
        "events": events,
        "events_per_s": round(events_per_s, 1),
        "concurrent_events_per_s": round(concurrent, 1),
        "edge_commit_events_per_s": round(edge_commit_rate, 1),
        "baseline_events_per_s": round(baseline, 1),
        "link_baseline_ratio": round(events_per_s / baseline, 3),
        "steady_rate_per_s": STEADY_RATE,
        "steady_events": total,
        "latency_ms_p50": round(percentile(latencies, 50), 1),
        "latency_ms_p99": p99,
        "cores": os.cpu_count(),
        "goals": goals,
    }
