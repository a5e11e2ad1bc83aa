"""Link telemetry: capture-ingest counters read from the edge's real store (SQLite)."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

from guardian.edge.config import EdgeSettings
from guardian.edge.context import EdgeContext, build_context
from guardian.edge.link import telemetry
from guardian.edge.link.outbox import OutboxDepth
from guardian.edge.store.tables import Capture, Device, Job

NOW = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
STARTED = NOW - dt.timedelta(hours=1)


def _device(device_id: str, *, seen: dt.datetime | None, revoked: bool = False) -> Device:
    return Device(
        id=device_id,
        key_sealed=b"sealed",
        key_fingerprint="f" * 64,
        created_at=STARTED - dt.timedelta(days=1),
        revoked_at=NOW if revoked else None,
        last_seen_at=seen,
    )


def _capture(device_id: str, seq: int, received: dt.datetime, status: str) -> Capture:
    return Capture(
        id=str(uuid.uuid4()),
        device_id=device_id,
        device_seq=seq,
        sha256="0" * 64,
        size_bytes=10,
        content_type="image/jpeg",
        width=4,
        height=4,
        captured_at=received,
        received_at=received,
        storage_uri=f"file:///captures/{seq}.jpg",
        status=status,
    )


def _job(ref: str, state: str) -> Job:
    return Job(kind="detect", fair_key="pi", ref_id=ref, state=state, run_after=NOW, created_at=NOW)


def _filled(tmp_path: Path) -> EdgeContext:
    ctx = build_context(EdgeSettings(data_dir=tmp_path / "edge"))
    recent, old = NOW - dt.timedelta(seconds=30), NOW - dt.timedelta(hours=2)
    with ctx.sessions.begin() as session:
        session.add_all(
            [
                _device("pi-online", seen=recent),
                _device("pi-quiet", seen=old),
                _device("pi-never", seen=None),
                _device("pi-revoked", seen=recent, revoked=True),
            ]
        )
        session.flush()
        session.add_all(
            [
                _capture("pi-online", 1, old, "processed"),  # before this edge started
                _capture("pi-online", 2, recent, "processed"),
                _capture("pi-online", 3, recent, "processed"),
                _capture("pi-online", 4, recent, "stored"),
                _capture("pi-quiet", 1, STARTED + dt.timedelta(minutes=1), "failed"),
            ]
        )
        session.add_all(
            [_job("a", "queued"), _job("b", "queued"), _job("c", "dead"), _job("d", "done")]
        )
    return ctx


def test_ingest_metrics_count_devices_captures_and_jobs_from_the_store(tmp_path: Path) -> None:
    ctx = _filled(tmp_path)
    with ctx.sessions() as session:
        metrics = telemetry.ingest_metrics(session, STARTED, NOW)
    assert (metrics.devices, metrics.devices_online) == (3, 1)  # the revoked one is not counted
    assert (metrics.captures_received, metrics.captures_processed) == (4, 2)
    assert (metrics.jobs_queued, metrics.jobs_dead) == (2, 1)


def test_the_telemetry_sample_carries_the_ingest_metrics(tmp_path: Path) -> None:
    ctx = _filled(tmp_path)
    with ctx.sessions() as session:
        sample = telemetry.sample(
            session, ctx.settings.data_dir, STARTED.timestamp(), OutboxDepth(0, None), NOW
        )
    assert sample.HasField("ingest")
    assert sample.ingest.devices == 3
    assert sample.ingest.captures_received == 4
    assert sample.ingest.jobs_queued == 2


def test_an_empty_store_reports_zeros(tmp_path: Path) -> None:
    ctx = build_context(EdgeSettings(data_dir=tmp_path / "edge"))
    with ctx.sessions() as session:
        metrics = telemetry.ingest_metrics(session, STARTED, NOW)
    assert metrics.devices == metrics.captures_received == metrics.jobs_queued == 0
