"""The encrypted archive end to end: a real clip sealed at the edge, stored at the relay,
recorded at the control plane, restored byte-identical with the ``guardian archive`` CLI.

In-process gRPC servers (control link with ArchiveLedger, relay link over mutual TLS) and
the edge's ArchiveMaintainer thread; the CLI runs as real processes (secrets on stdin).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from google.protobuf.timestamp_pb2 import Timestamp

from guardian.contracts.pb.guardian.v1 import control_pb2
from guardian.control.app import create_app
from guardian.control.link_server import start_control_link
from guardian.edge.archive.config import EdgeArchiveSettings
from guardian.edge.archive.maintainer import ArchiveMaintainer
from guardian.edge.archive.tables import Archive
from guardian.edge.config import CameraSettings, EdgeSettings, LinkSettings, QueueSettings
from guardian.edge.context import build_context
from guardian.edge.service import build_supervisor
from guardian.relay.archive.config import RelayArchiveSettings
from guardian.relay.config import RelaySettings
from guardian.relay.context import build_context as build_relay_context
from guardian.relay.enroll import control_redeemer
from guardian.relay.link_server import LinkServer
from tests.archive_fixtures import add_clip_event, enroll_edge, stop_link
from tests.control_helpers import actor, assign_relay, make_relay, make_site, make_tenant
from tests.media import vtest_path
from tests.video import make_video

SECRET = "a long archive secret\n"
WAIT_S = 30.0


def _cli(
    *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "guardian", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, "GUARDIAN_LOG_FORMAT": "json", **(env or {})},
        timeout=120,
        check=False,
    )


def _ts(value: dt.datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def _wait_for(predicate: object, what: str) -> None:
    assert callable(predicate)
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


def test_a_clip_is_archived_and_restored_only_with_the_secret(
    sqlite_control_ctx: object, tmp_path: Path
) -> None:
    from guardian.control.context import ControlContext

    control = sqlite_control_ctx
    assert isinstance(control, ControlContext)
    tenant = make_tenant(control)
    relay_id, relay_token = make_relay(control)
    assign_relay(control, tenant, relay_id)
    site = make_site(control, tenant)
    control_server, control_port = start_control_link(control, "127.0.0.1", 0)

    relay_env = {
        "GUARDIAN_RELAY_DATA_DIR": str(tmp_path / "relay"),
        "GUARDIAN_RELAY_CONTROL_URL": f"http://127.0.0.1:{control_port}",
        "GUARDIAN_RELAY_CONTROL_TOKEN": relay_token,
    }
    relay_settings = RelaySettings(
        data_dir=tmp_path / "relay",
        link_port=0,  # any free port (and so the direct port)
        control_url=relay_env["GUARDIAN_RELAY_CONTROL_URL"],
        control_token=relay_token,
        archive=RelayArchiveSettings(),
    )
    relay = build_relay_context(relay_settings)
    link = LinkServer(relay, control_redeemer(relay.control), workers=4)
    link.start()
    address = f"127.0.0.1:{link.port}"

    edge_settings = EdgeSettings(
        data_dir=tmp_path / "edge",
        archive=EdgeArchiveSettings(enabled=True, chunk_bytes=64 * 1024, scan_seconds=0.1),
        link=LinkSettings(relay=address, enabled=False),
        queue=QueueSettings(workers=0, poll_seconds=0.1),
        cameras=CameraSettings(enabled=False),
    )
    edge = build_context(edge_settings)
    stop = threading.Event()
    maintainer = ArchiveMaintainer(edge, stop)
    try:
        # The edge service starts the maintainer when the archive is enabled.
        assert "archive" in build_supervisor(edge).status()
        site_id = site
        enroll_edge(relay.ca, edge_settings.data_dir, address, site_id=site_id, tenant_id=tenant)
        got = _cli(
            "edge", "archive", "set-secret", "--data-dir", str(edge_settings.data_dir), stdin=SECRET
        )
        assert got.returncode == 0, got.stderr
        assert "a long archive secret" not in got.stdout + got.stderr

        # A real clip: OpenCV's street scene when fetched (8 MB), else a synthetic MP4.
        clip_path = vtest_path()
        if not clip_path.is_file():
            clip_path = make_video(tmp_path / "clip.mp4", width=640, height=480, seconds=4.0)
        clip = clip_path.read_bytes()
        assert len(clip) > 2 * edge_settings.archive.chunk_bytes  # several chunks
        event_id = add_clip_event(edge.sessions, edge_settings.media_dir, clip)
        # The event's summary reaches the control plane (as the relay's forwarder does).
        assert relay.control is not None
        relay.control.stub.PushSummaries(
            control_pb2.SummaryBatch(
                batch_id="b1",
                events=[
                    control_pb2.EventSummary(
                        id=event_id,
                        tenant_id=tenant,
                        site_id=site_id,
                        source_kind=control_pb2.SOURCE_KIND_CAMERA,
                        source_name="door",
                        type="interaction_detected",
                        person_count=1,
                        confidence=control_pb2.CONFIDENCE_HIGH,
                        state=control_pb2.EVENT_STATE_ENDED,
                        started_at=_ts(dt.datetime.now(dt.UTC)),
                        ended_at=_ts(dt.datetime.now(dt.UTC)),
                        version=1,
                    )
                ],
            ),
            metadata=relay.control.metadata,
            timeout=5,
        )

        maintainer.start()

        def archived() -> Archive | None:
            with edge.sessions() as session:
                return session.get(Archive, event_id)

        _wait_for(lambda: archived() is not None, "the clip to be archived")
        record = archived()
        assert record is not None and record.cid.startswith("bafkrei")

        status = _cli(
            "edge", "archive", "status", "--json", "--data-dir", str(edge_settings.data_dir)
        )
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout) == {
            "enabled": False,  # the CLI reads the environment, where the archive is off
            "secret_set": True,
            "archived": 1,
            "archived_bytes": record.size_bytes,
            "jobs": {"done": 1},
        }

        # The control plane holds the CID and size, shown on the event.
        client = TestClient(create_app(control))
        viewer = actor(control, client, tenant, "viewer")
        detail = client.get(f"/api/v1/events/{event_id}", headers=viewer.headers).json()
        assert detail["archive"]["cid"] == record.cid
        assert detail["archive"]["size"] == record.size_bytes

        # Restore with the edge's identity and the secret: byte-identical.
        identity = str(edge_settings.data_dir / "link")
        out = tmp_path / "restore" / "clip.mp4"
        out.parent.mkdir()
        base = ["archive", "get", record.cid, "--relay", address, "--out", str(out)]
        got = _cli(*base, "--identity", identity, stdin=SECRET)
        assert got.returncode == 0, got.stderr
        assert hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256(clip).digest()

        # A wrong secret: a clear error, nothing written (no partial file, no temp files).
        wrong = tmp_path / "restore" / "wrong.mp4"
        got = _cli(*base[:-1], str(wrong), "--identity", identity, stdin="not the secret\n")
        assert got.returncode == 1
        assert "wrong secret" in got.stderr and "nothing written" in got.stderr
        assert sorted(p.name for p in out.parent.iterdir()) == ["clip.mp4"]

        # A relay admin restores with an admin token instead of the edge's certificate.
        token = relay.admin_tokens.create()
        admin_out = tmp_path / "restore" / "admin.mp4"
        got = _cli(
            *base[:-1],
            str(admin_out),
            "--ca-file",
            str(edge_settings.data_dir / "link" / "ca.crt"),
            stdin=SECRET,
            env={"GUARDIAN_RELAY_ADMIN_TOKEN": token},
        )
        assert got.returncode == 0, got.stderr
        assert admin_out.read_bytes() == clip

        # A corrupted blob at the relay: the CID check fails, nothing written.
        blob_path = link.archive.backend.path_of(record.cid)  # type: ignore[attr-defined]
        original = blob_path.read_bytes()
        data = bytearray(original)
        data[len(data) // 2] ^= 0x01
        blob_path.write_bytes(bytes(data))
        corrupt = tmp_path / "restore" / "corrupt.mp4"
        got = _cli(*base[:-1], str(corrupt), "--identity", identity, stdin=SECRET)
        assert got.returncode == 1 and "corrupted" in got.stderr
        assert not corrupt.exists()
        blob_path.write_bytes(original)

        # The edge's retention deletes local files only; the relay keeps the blob.
        (edge_settings.media_dir / "clips").rename(tmp_path / "pruned")
        again = tmp_path / "restore" / "again.mp4"
        assert _cli(*base[:-1], str(again), "--identity", identity, stdin=SECRET).returncode == 0
        assert again.read_bytes() == clip

        # An admin deletes the archive: audited, and the control plane forgets the CID.
        got = _cli(
            "archive",
            "delete",
            record.cid,
            "--reason",
            "customer asked",
            "--actor",
            "ops",
            "--json",
            env=relay_env,
        )
        assert got.returncode == 0, got.stderr
        assert '"reported": true' in got.stdout
        audit = _cli("archive", "audit", "--json", env=relay_env)
        assert '"customer asked"' in audit.stdout and '"ops"' in audit.stdout
        detail = client.get(f"/api/v1/events/{event_id}", headers=viewer.headers).json()
        assert detail["archive"] is None
        gone = _cli(
            *base[:-1], str(tmp_path / "restore" / "gone.mp4"), "--identity", identity, stdin=SECRET
        )
        assert gone.returncode == 1 and "NOT_FOUND" in gone.stderr
    finally:
        stop.set()
        if maintainer.is_alive():
            maintainer.join(10)
        stop_link(link)
        if relay.control is not None:
            relay.control.close()
        relay.engine.dispose()
        edge.engine.dispose()
        control_server.stop(grace=None).wait()
    assert uuid.UUID(event_id)
