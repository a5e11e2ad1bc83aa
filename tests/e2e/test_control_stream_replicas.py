"""Two ``guardian control run`` processes on one PostgreSQL: live updates cross replicas."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from guardian.control.context import ControlContext
from tests.control_helpers import (
    PASSWORD,
    assign_relay,
    make_relay,
    make_site,
    make_tenant,
    make_user,
)
from tests.ports import reserve_port

START_S = 30.0


@contextmanager
def replica(data_dir: Path, database_url: str) -> Iterator[str]:
    """``guardian control run`` in a subprocess; yields its base URL once it is healthy."""
    port = reserve_port()
    env = {**os.environ, "GUARDIAN_CONTROL_DATABASE_URL": database_url}
    args = ["control", "run", "--data-dir", str(data_dir), "--port", str(port)]
    process = subprocess.Popen(
        [sys.executable, "-m", "guardian", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_S
        while True:
            assert process.poll() is None, process.communicate()[1]
            assert time.monotonic() < deadline, "replica did not start"
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
        assert process.stderr is not None
        process.stderr.close()


def _event(tenant_id: str, site_id: str, label: str) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "tenant_id": tenant_id,
        "site_id": site_id,
        "source_kind": "camera",
        "source_name": "front",
        "type": "interaction_detected",
        "label": label,
        "zone": None,
        "dwell_s": None,
        "person_count": 1,
        "confidence": "medium",
        "state": "active",
        "started_at": "2026-03-01T09:00:00Z",
        "ended_at": "2026-03-01T09:00:01Z",
        "version": 1,
    }


def _next_data(lines: Iterator[str]) -> dict[str, Any]:
    """The next message's data (comments and other fields skipped)."""
    for line in lines:
        if line.startswith("data: "):
            data: dict[str, Any] = json.loads(line.removeprefix("data: "))
            return data
    raise AssertionError("the stream ended")


def test_event_ingested_on_one_replica_streams_from_the_other(
    pg_control_ctx: ControlContext,
) -> None:
    ctx = pg_control_ctx
    url = ctx.settings.database_url
    assert url is not None
    tenant_id = make_tenant(ctx)
    site_id = make_site(ctx, tenant_id)
    relay_id, relay_token = make_relay(ctx)
    assign_relay(ctx, tenant_id, relay_id)
    _user, email = make_user(ctx, tenant_id, "viewer")
    # Both replicas share the data dir's master key, as replicas of one deployment do.
    with replica(ctx.settings.data_dir, url) as one, replica(ctx.settings.data_dir, url) as two:
        login = httpx.post(f"{one}/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        assert login.status_code == 200, login.text
        headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
        with (
            httpx.Client(timeout=httpx.Timeout(10.0, read=3.0)) as client,
            client.stream("GET", f"{two}/api/v1/events/stream", headers=headers) as stream,
        ):
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.iter_lines()
            assert next(lines).startswith("retry:")  # sent once the stream is subscribed
            for i in range(3):
                sent = time.monotonic()
                result = httpx.post(
                    f"{one}/api/v1/ingest/events",
                    json={"events": [_event(tenant_id, site_id, f"e{i}")]},
                    headers={"Authorization": f"Bearer {relay_token}"},
                )
                assert result.json()["results"][0]["status"] == "created", result.text
                data = _next_data(lines)  # a read timeout (3 s) fails the test
                assert data["label"] == f"e{i}" and data["change"] == "created"
                # The replicas poll only every 5 s: a quick arrival came by LISTEN/NOTIFY.
                assert time.monotonic() - sent < 2.0
