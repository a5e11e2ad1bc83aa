"""The cleanup job on real files and a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from guardian.common.db import session_factory, utcnow
from guardian.common.seal import Sealer
from guardian.edge.app import create_app
from guardian.edge.capture.cleanup import CleanupMaintainer, CleanupReport, run_cleanup
from guardian.edge.config import RetentionSettings
from guardian.edge.context import EdgeContext
from guardian.edge.store.tables import Capture, Device, Event, EventCapture
from guardian.edge.store.tokens import create_token
from tests.capture_helpers import jpeg_bytes, serve_app
from tests.edge_fixtures import EdgeDb

DEVICE = "shop-door-pi"
HOUR = 3600.0


JPEG = jpeg_bytes(32, 24)


def make_ctx(db: EdgeDb, **retention: float) -> EdgeContext:
    settings = db.settings.model_copy(
        update={"retention": RetentionSettings(**{"max_delete_fraction": 1.0, **retention})}
    )
    settings.media_dir.mkdir(parents=True, exist_ok=True)
    ctx = EdgeContext(settings, db.engine, session_factory(db.engine), Sealer(os.urandom(32)))
    with ctx.sessions.begin() as session:
        session.add(Device(id=DEVICE, key_sealed=b"k", key_fingerprint="f", created_at=utcnow()))
    return ctx


def age(days: float = 0.0, seconds: float = 0.0) -> dt.datetime:
    return utcnow() - dt.timedelta(days=days, seconds=seconds)


def captures_dir(ctx: EdgeContext) -> Path:
    return ctx.settings.media_dir / "captures" / DEVICE / "2026" / "01" / "01"


def seed(
    ctx: EdgeContext, *, days: float = 1.0, state: str = "present", status: str = "processed"
) -> tuple[str, Path]:
    """A capture row and (unless pruned) its file in the canonical layout."""
    cid = str(uuid.uuid4())
    when = age(days)
    path = ctx.settings.media_dir / "captures" / DEVICE / when.strftime("%Y/%m/%d") / f"{cid}.jpg"
    if state != "pruned":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(JPEG)
    with ctx.sessions.begin() as session:
        seq = session.scalar(select(func.count()).select_from(Capture))
        session.add(
            Capture(
                id=cid,
                device_id=DEVICE,
                device_seq=seq,
                sha256="0" * 64,
                size_bytes=len(JPEG),
                content_type="image/jpeg",
                width=32,
                height=24,
                captured_at=when,
                received_at=when,
                storage_uri=path.absolute().as_uri(),
                status=status,
                file_state=state,
            )
        )
    return cid, path


def stray(directory: Path, name: str, *, seconds_old: float) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_bytes(JPEG)
    then = time.time() - seconds_old
    os.utime(path, (then, then))
    return path


def states(ctx: EdgeContext) -> dict[str, str]:
    with ctx.sessions() as session:
        rows = session.execute(select(Capture.id, Capture.file_state))
        return {str(cid): str(state) for cid, state in rows}


def media_files(ctx: EdgeContext) -> set[Path]:
    return {p for p in (ctx.settings.media_dir / "captures").rglob("*") if p.is_file()}


def cleanup_metric(ctx: EdgeContext, action: str) -> float:
    value = ctx.metrics.registry.get_sample_value(
        "guardian_cleanup_files_total", {"action": action}
    )
    return value or 0.0


def assert_nothing_changed(report: CleanupReport) -> None:
    assert report.changed == 0
    assert not (report.pruned or report.orphans_removed or report.tmp_removed)
    assert not (report.marked_missing or report.restored or report.leftovers_removed)


def test_prune_deletes_old_files_and_keeps_their_rows_and_events(edge_db: EdgeDb) -> None:
    ctx = make_ctx(edge_db)
    old = [seed(ctx, days=45) for _ in range(3)]
    fresh = [seed(ctx, days=2) for _ in range(3)]
    now = utcnow()
    with ctx.sessions.begin() as session:
        session.add(
            Event(
                id="ev-1",
                type="interaction_detected",
                source_kind="device",
                source_id=DEVICE,
                started_at=now,
                ended_at=now,
                person_count=1,
                best_score=0.9,
                details={"boxes": []},
                created_at=now,
                updated_at=now,
            )
        )
        session.flush()
        session.add_all(EventCapture(event_id="ev-1", capture_id=cid) for cid, _ in old)

    report = run_cleanup(ctx, now=now)

    assert report.applied and report.refused is None
    assert sorted(report.pruned) == sorted(cid for cid, _ in old)
    assert all(not path.exists() for _, path in old)
    assert all(path.exists() for _, path in fresh)
    with ctx.sessions() as session:
        for cid, _ in old:
            row = session.get(Capture, cid)
            assert row is not None and row.file_state == "pruned" and row.file_state_at == now
        assert session.get(Event, "ev-1") is not None
        linked = session.scalars(
            select(EventCapture.capture_id).where(EventCapture.event_id == "ev-1")
        )
        assert sorted(linked) == sorted(cid for cid, _ in old)
    assert cleanup_metric(ctx, "pruned") == 3


def test_unprocessed_old_captures_keep_their_files(edge_db: EdgeDb) -> None:
    ctx = make_ctx(edge_db)
    _, path = seed(ctx, days=60, status="stored")
    assert run_cleanup(ctx).pruned == []
    assert path.exists()


def test_dry_run_reports_and_changes_nothing(edge_db: EdgeDb) -> None:
    ctx = make_ctx(edge_db)
    old_id, _ = seed(ctx, days=45)
    gone_id, gone = seed(ctx, days=1)
    gone.unlink()
    stray(captures_dir(ctx), "orphan.jpg", seconds_old=HOUR)
    stray(captures_dir(ctx), ".tmp-abc", seconds_old=HOUR)
    before_rows, before_files = states(ctx), media_files(ctx)

    report = run_cleanup(ctx, dry_run=True)

    assert report.dry_run and not report.applied
    assert report.pruned == [old_id] and report.marked_missing == [gone_id]
    assert len(report.orphans_removed) == 1 and len(report.tmp_removed) == 1
    assert report.counts["orphans_removed"] == 1
    assert states(ctx) == before_rows and media_files(ctx) == before_files
    assert cleanup_metric(ctx, "pruned") == 0


def test_a_second_run_right_after_changes_nothing(edge_db: EdgeDb) -> None:
    ctx = make_ctx(edge_db)
    for _ in range(2):
        seed(ctx, days=45)
    seed(ctx, days=3)
    _, gone = seed(ctx, days=1)
    gone.unlink()
    stray(captures_dir(ctx), "orphan.jpg", seconds_old=HOUR)
    stray(captures_dir(ctx), "young.jpg", seconds_old=5)
    first = run_cleanup(ctx)
    assert first.changed == 4  # 2 pruned, 1 marked missing, 1 orphan
    rows, files = states(ctx), media_files(ctx)

    second = run_cleanup(ctx)

    assert_nothing_changed(second)
    assert second.orphans_in_grace == 1
    assert states(ctx) == rows and media_files(ctx) == files


def test_orphans_and_temp_files_are_swept_after_the_grace_period(edge_db: EdgeDb) -> None:
    ctx = make_ctx(edge_db, orphan_grace_seconds=300)
    owned_id, owned = seed(ctx, days=1)
    d = captures_dir(ctx)
    old_orphan = stray(d, f"{uuid.uuid4()}.jpg", seconds_old=HOUR)
    old_tmp = stray(d, ".tmp-upload-1", seconds_old=HOUR)
    young_orphan = stray(d, f"{uuid.uuid4()}.jpg", seconds_old=10)
    young_tmp = stray(d, ".tmp-upload-2", seconds_old=10)
    stray(d / "nested" / "deeper", "no-row.png", seconds_old=HOUR)

    report = run_cleanup(ctx)

    assert sorted(report.orphans_removed) == sorted(
        [str(old_orphan), str(d / "nested/deeper/no-row.png")]
    )
    assert report.tmp_removed == [str(old_tmp)]
    assert report.orphans_in_grace == 2
    assert media_files(ctx) == {owned, young_orphan, young_tmp}
    assert states(ctx) == {owned_id: "present"}
    assert cleanup_metric(ctx, "orphan") == 2 and cleanup_metric(ctx, "tmp") == 1


def test_missing_files_are_marked_and_the_image_endpoint_answers_410(edge_db: EdgeDb) -> None:
    ctx = make_ctx(edge_db)
    cid, path = seed(ctx, days=1)
    path.unlink()

    report = run_cleanup(ctx)

    assert report.marked_missing == [cid]
    assert states(ctx)[cid] == "missing"
    with ctx.sessions.begin() as session:
        token = create_token(session)
    with serve_app(create_app(ctx)) as url:
        auth = {"Authorization": f"Bearer {token}"}
        response = httpx.get(f"{url}/v1/captures/{cid}/image", headers=auth)
    assert response.status_code == 410
    assert response.json()["error"]["file_state"] == "missing"
    # The file reappears (a disk remounted): the next run marks the row present again.
    path.write_bytes(JPEG)
    assert run_cleanup(ctx).restored == [cid]
    assert states(ctx)[cid] == "present"


def test_a_file_left_by_an_interrupted_prune_is_deleted_and_the_row_stays_pruned(
    edge_db: EdgeDb,
) -> None:
    ctx = make_ctx(edge_db)
    cid, path = seed(ctx, days=45)
    # A crash after committing "pruned" and before unlinking leaves exactly this.
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(JPEG)
    with ctx.sessions.begin() as session:
        row = session.get(Capture, cid)
        assert row is not None
        row.file_state = "pruned"

    report = run_cleanup(ctx)

    assert report.leftovers_removed == [str(path)] and report.pruned == []
    assert not path.exists() and states(ctx)[cid] == "pruned"


def test_refuses_to_delete_over_the_fraction_unless_forced(edge_db: EdgeDb) -> None:
    ctx = make_ctx(edge_db, max_delete_fraction=0.25)
    old = [seed(ctx, days=45) for _ in range(2)]
    fresh = [seed(ctx, days=1) for _ in range(2)]
    before = states(ctx)

    refused = run_cleanup(ctx)

    assert refused.refused is not None and "2 of 4" in refused.refused
    assert not refused.applied and sorted(refused.pruned) == sorted(cid for cid, _ in old)
    assert states(ctx) == before
    assert all(path.exists() for _, path in old + fresh)

    forced = run_cleanup(ctx, force=True)

    assert forced.applied and forced.forced and len(forced.pruned) == 2
    assert all(not path.exists() for _, path in old)
    assert all(path.exists() for _, path in fresh)


def test_maintainer_cleans_on_its_interval_until_stopped(edge_db: EdgeDb) -> None:
    ctx = make_ctx(edge_db)
    _, path = seed(ctx, days=45)
    stop = threading.Event()
    maintainer = CleanupMaintainer(ctx, stop, interval=0.05, first_delay=0.0)
    maintainer.start()
    deadline = time.monotonic() + 10
    while maintainer.runs < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    maintainer.join(5)
    assert not maintainer.is_alive()
    assert maintainer.runs >= 2 and not path.exists()
    assert maintainer.last_report is not None and maintainer.last_report.changed == 0


def test_maintainer_needs_a_positive_interval(sqlite_edge_db: EdgeDb) -> None:
    ctx = make_ctx(sqlite_edge_db)
    with pytest.raises(ValueError, match="positive"):
        CleanupMaintainer(ctx, threading.Event(), interval=0)
