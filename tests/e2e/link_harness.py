"""Control plane, relay and edge as separate ``guardian … run`` processes on loopback.

``LinkStack`` sets a deployment up through the real CLIs and the control API (tenant,
admin user, relay add + assign, site → bootstrap token, ``guardian edge enroll``), starts,
stops, kills and restarts each service, makes events at the edge with the edge's own store
code, and reads what arrived in the control plane's database. Logs go to files under the
stack's folder and are shown when a wait fails.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy import Engine, func, select

from guardian.common.db import session_factory, sqlite_url
from guardian.edge.events.camera_store import apply_action
from guardian.edge.store.schema import open_store
from guardian.edge.store.tables import Outbox
from guardian.edge.track.lifecycle import INTERACTION, EventAction
from tests.control_fixtures import migrate_control
from tests.ports import reserve_port

START_S = 60.0
ADMIN_EMAIL = "admin@link.example"
ADMIN_PASSWORD = "link harness password, not a secret"
# Short link timings so that dead links and reconnects take seconds, not minutes.
RELAY_ENV = {
    "GUARDIAN_RELAY_HEARTBEAT_SECONDS": "1",
    "GUARDIAN_RELAY_DEAD_LINK_SECONDS": "3",
    "GUARDIAN_RELAY_FORWARD_RETRY_MAX_SECONDS": "1",
}
EDGE_ENV = {
    "GUARDIAN_EDGE_LINK__RECONNECT_MAX_SECONDS": "1",
    "GUARDIAN_EDGE_LINK__TELEMETRY_SECONDS": "2",
}


@contextmanager
def open_stack(
    root: Path, make_database: Callable[[str, Callable[[str], None]], str]
) -> Iterator[LinkStack]:
    """A ``LinkStack`` on a fresh control database from ``pg_database_factory``; closed after."""
    stack = LinkStack(root, make_database("control", migrate_control))
    try:
        yield stack
    finally:
        stack.close()


def cli(*args: str, stdin: str | None = None, env: Mapping[str, str] | None = None) -> str:
    """``python -m guardian ARGS``; its stdout, or AssertionError with stderr on failure."""
    done = cli_result(*args, stdin=stdin, env=env)
    assert done.returncode == 0, f"guardian {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


def cli_result(
    *args: str, stdin: str | None = None, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m guardian ARGS`` whatever its outcome."""
    return subprocess.run(
        [sys.executable, "-m", "guardian", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, "GUARDIAN_LOG_FORMAT": "json", **(env or {})},
        timeout=120,
        check=False,
    )


@dataclass
class Service:
    """One long-running ``guardian`` process: start, stop (SIGTERM), kill (SIGKILL), logs."""

    name: str
    args: list[str]
    env: dict[str, str]
    log_path: Path
    health_url: str | None
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self, extra_env: Mapping[str, str] | None = None, *, wait: bool = True) -> None:
        """Start the process (again); wait until its health URL answers 200 if it has one."""
        assert self.proc is None or self.proc.poll() is not None, f"{self.name} is running"
        self.starts += 1
        with self.log_path.open("a") as log:
            log.write(f"--- start {self.starts} ---\n")
            log.flush()
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "guardian", *self.args],
                env={**os.environ, **self.env, **(extra_env or {})},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if wait and self.health_url is not None:
            wait_for(self._healthy, START_S, f"{self.name} healthy", self)

    def _healthy(self) -> bool:
        assert self.proc is not None and self.health_url is not None
        assert self.proc.poll() is None, (
            f"{self.name} exited with {self.proc.returncode}\n{self.log()}"
        )
        try:
            return httpx.get(self.health_url, timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM and wait (SIGKILL after ``timeout``)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def kill(self) -> None:
        """SIGKILL: no cleanup, no flush."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def wait_exit(self, timeout: float) -> int:
        """Wait for the process to end on its own (e.g. a fault point); its return code."""
        assert self.proc is not None
        return self.proc.wait(timeout)

    def log(self, tail: int = 6000) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return f"=== {self.name} log ===\n{text[-tail:]}"


def wait_for(
    check: Callable[[], bool], timeout: float, what: str, *logs_of: Service, poll: float = 0.2
) -> None:
    """Poll ``check`` until true; on timeout fail with the services' log tails."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            logs = "\n".join(s.log() for s in logs_of)
            raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{logs}")
        time.sleep(poll)


def make_action(key: str, camera: str = "front", *, at: float | None = None) -> EventAction:
    """A finished interaction event action, as the camera pipeline emits it."""
    ts = time.time() if at is None else at
    box = (0.1, 0.1, 0.4, 0.9)
    return EventAction(
        kind="end", key=key, event_type=INTERACTION, camera=camera, track_id=1,
        label="person", ts=ts, start_ts=ts - 2.0, end_ts=ts, box=box, best_score=0.8123,
        best_ts=ts - 1.0, best_box=box, zones=("shelf",), zone="shelf", dwell_s=2.0,
        person_count=1, peak_person_count=1,
    )  # fmt: skip


@dataclass
class EdgeEvents:
    """Writes camera events (event row + outbox row in one transaction) into the edge store."""

    engine: Engine
    made: dict[str, int] = field(default_factory=dict)  # event id -> latest version
    keys: dict[str, str] = field(default_factory=dict)  # event id -> engine key

    def _apply(self, key: str, camera: str) -> str:
        with session_factory(self.engine).begin() as session:
            event = apply_action(
                session, make_action(key, camera), now=dt.datetime.now(dt.UTC), events_days=30
            )
            self.made[event.id] = event.version
            self.keys[event.id] = key
            return event.id

    def add(self, count: int, camera: str = "front") -> list[str]:
        """``count`` new events, one transaction each; their ids."""
        return [self._apply(f"{camera}:{uuid.uuid4()}", camera) for _ in range(count)]

    def update(self, ids: Iterable[str], camera: str = "front") -> None:
        """A new version of each of these events (another outbox row each)."""
        for event_id in ids:
            self._apply(self.keys[event_id], camera)

    def outbox_depth(self) -> int:
        with session_factory(self.engine)() as session:
            return int(session.scalar(select(func.count()).select_from(Outbox)) or 0)


@dataclass
class Deployment:
    """Ids and secrets made while setting the stack up."""

    tenant_id: str
    relay_id: str
    relay_token: str
    site_id: str
    bootstrap_token: str


class LinkStack:
    """Control plane (PostgreSQL), relay (SQLite) and edge (SQLite) on free loopback ports."""

    def __init__(self, root: Path, control_db_url: str) -> None:
        self.root = root
        self.control_db_url = control_db_url
        self.control_dir = root / "control"
        self.relay_dir = root / "relay"
        self.edge_dir = root / "edge"
        self.http_port, self.grpc_port = reserve_port(), reserve_port()
        self.relay_http_port, self.relay_link_port = reserve_port(), reserve_port()
        self.relay_direct_port, self.edge_port = reserve_port(), reserve_port()
        self.control_url = f"http://127.0.0.1:{self.http_port}"
        self.relay_url = f"http://127.0.0.1:{self.relay_http_port}"
        self.edge_url = f"http://127.0.0.1:{self.edge_port}"
        self._db_args = ["--data-dir", str(self.control_dir), "--database-url", control_db_url]
        self.control = Service(
            "control",
            ["control", "run", *self._db_args, "--port", str(self.http_port)],
            {"GUARDIAN_CONTROL_GRPC_PORT": str(self.grpc_port)},
            root / "control.log",
            f"{self.control_url}/healthz",
        )
        self.relay: Service | None = None
        self.edge = Service(
            "edge",
            ["edge", "run", "--data-dir", str(self.edge_dir), "--port", str(self.edge_port)],
            dict(EDGE_ENV),
            root / "edge.log",
            f"{self.edge_url}/healthz",
        )
        self.deployment: Deployment | None = None
        self._edge_events: EdgeEvents | None = None

    # --- setup -----------------------------------------------------------------------
    def setup(self) -> Deployment:
        """Tenant, admin, relay (add + assign) via the CLI; control up; a site via the API."""
        tenant_id = json.loads(
            cli("control", "tenant", "create", "acme", *self._db_args, "--json")
        )["tenant_id"]
        cli(
            "control", "user", "create", ADMIN_EMAIL, "--tenant", tenant_id, "--role", "admin",
            "--password-stdin", *self._db_args, "--json", stdin=ADMIN_PASSWORD + "\n",
        )  # fmt: skip
        relay_url = f"https://127.0.0.1:{self.relay_link_port}"
        relay = json.loads(
            cli("control", "relay", "add", "r1", "--url", relay_url, *self._db_args, "--json")
        )
        cli("control", "relay", "assign", "r1", "--tenant", tenant_id, *self._db_args, "--json")
        self.control.start()
        site_id, token = self.create_site("shop")
        self.deployment = Deployment(tenant_id, relay["relay_id"], relay["token"], site_id, token)
        self.relay = Service(
            "relay",
            ["relay", "run"],
            {
                **RELAY_ENV,
                "GUARDIAN_RELAY_DATA_DIR": str(self.relay_dir),
                "GUARDIAN_RELAY_HTTP_PORT": str(self.relay_http_port),
                "GUARDIAN_RELAY_LINK_PORT": str(self.relay_link_port),
                "GUARDIAN_RELAY_LINK_DIRECT_PORT": str(self.relay_direct_port),
                # The control plane's gRPC link (plaintext is allowed to loopback only).
                "GUARDIAN_RELAY_CONTROL_URL": f"http://127.0.0.1:{self.grpc_port}",
                "GUARDIAN_RELAY_CONTROL_TOKEN": relay["token"],
            },
            self.root / "relay.log",
            f"{self.relay_url}/healthz",
        )
        return self.deployment

    def admin_headers(self) -> dict[str, str]:
        login = httpx.post(
            f"{self.control_url}/api/v1/auth/login",
            json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD},
            timeout=10,
        )
        assert login.status_code == 200, login.text
        return {"Authorization": f"Bearer {login.json()['access_token']}"}

    def create_site(self, name: str) -> tuple[str, str]:
        """A new site of the tenant via the control API: (site id, bootstrap token)."""
        made = httpx.post(
            f"{self.control_url}/api/v1/sites",
            json={"name": name},
            headers=self.admin_headers(),
            timeout=10,
        )
        assert made.status_code == 201, made.text
        body = made.json()
        return str(body["site"]["id"]), str(body["bootstrap_token"])

    def enroll(
        self, token: str | None = None, data_dir: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``guardian edge enroll`` against the relay (TOFU: no --ca-file)."""
        assert self.deployment is not None
        return cli_result(
            "edge", "enroll", "--relay", f"127.0.0.1:{self.relay_link_port}",
            "--token", token or self.deployment.bootstrap_token,
            "--data-dir", str(data_dir or self.edge_dir), "--json",
        )  # fmt: skip

    def start_all(self) -> Deployment:
        """Set up, start the relay, enroll the edge and start it."""
        deployment = self.setup()
        self.relay_service.start()
        enrolled = self.enroll()
        assert enrolled.returncode == 0, (
            enrolled.stdout + enrolled.stderr + self.relay_service.log()
        )
        self.edge.start()
        return deployment

    @property
    def relay_service(self) -> Service:
        assert self.relay is not None, "setup() first"
        return self.relay

    # --- events ----------------------------------------------------------------------
    @property
    def edge_events(self) -> EdgeEvents:
        """Event writer on the edge's own SQLite store (WAL: shared with the running edge)."""
        if self._edge_events is None:
            url = sqlite_url(self.edge_dir / "edge.db")
            self._edge_events = EdgeEvents(open_store(url, migrate=False))
        return self._edge_events

    @property
    def made(self) -> dict[str, int]:
        """Every event made at the edge by this test: id -> latest version."""
        return self.edge_events.made

    def control_events(self) -> dict[str, dict[str, Any]]:
        """Every event row in the control plane's database, by id (a system query)."""
        with psycopg.connect(self.control_db_url) as conn, conn.cursor() as cur:
            cur.execute("SELECT * FROM events")
            names = [d.name for d in cur.description or ()]
            return {str(row[0]): dict(zip(names, row, strict=True)) for row in cur.fetchall()}

    def wait_delivered(self, ids: Iterable[str], timeout: float = 30.0) -> None:
        """Wait until all ``ids`` are in the control plane."""
        wanted = set(ids)
        services = [s for s in (self.control, self.relay, self.edge) if s is not None]
        try:
            wait_for(
                lambda: wanted <= self.control_events().keys(),
                timeout,
                f"{len(wanted)} events in the control plane",
                *services,
                poll=0.5,
            )
        except AssertionError as exc:
            raise AssertionError(f"{self.where_events_are(wanted)}\n{exc}") from None

    def where_events_are(self, wanted: set[str]) -> str:
        """Where each hop holds the wanted events (for a failure message)."""
        arrived = wanted & self.control_events().keys()
        missing = sorted(wanted - arrived)
        lines = [
            f"control plane: {len(arrived)} of {len(wanted)}; missing {missing}, "
            f"made at versions {[self.made.get(m) for m in missing]}"
        ]
        relay_db = self.relay_dir / "relay.db"
        if relay_db.exists():
            with closing(sqlite3.connect(relay_db)) as conn:
                for table, column in (("cached_events", "id"), ("forward_queue", "event_id")):
                    rows = conn.execute(f"SELECT {column} FROM {table}").fetchall()
                    held = wanted & {str(r[0]) for r in rows}
                    lines.append(f"relay {table}: {len(held)} of them ({len(rows)} rows)")
                due = conn.execute(
                    "SELECT event_id, version, attempts, next_attempt_at, last_error "
                    "FROM forward_queue ORDER BY id LIMIT 5"
                ).fetchall()
                lines.append(f"relay forward_queue head: {due}")
                versions = conn.execute("SELECT id, version FROM cached_events").fetchall()
                lines.append(f"relay cached versions: {sorted(versions)}")
        with session_factory(self.edge_events.engine)() as session:
            outbox_ids = list(session.scalars(select(Outbox.id)))
        lines.append(f"edge outbox: {len(outbox_ids)} rows, ids {outbox_ids}")
        return "\n".join(lines)

    def close(self) -> None:
        for service in (self.edge, self.relay, self.control):
            if service is not None:
                service.stop()
        if self._edge_events is not None:
            self._edge_events.engine.dispose()


def assert_exactly_once(stack: LinkStack, produced: Mapping[str, int]) -> None:
    """The control plane holds exactly the events the edge produced, each at its version,
    and none of their detail beyond a summary (no boxes, scores or image references)."""
    got = stack.control_events()
    assert set(got) == set(produced), (
        f"missing {set(produced) - set(got)}, unexpected {set(got) - set(produced)}"
    )
    for event_id, row in got.items():
        assert row["version"] == produced[event_id], (event_id, row["version"])
        leaked = {k for k in row if any(w in k for w in ("box", "score", "image", "path"))}
        assert not leaked, leaked
