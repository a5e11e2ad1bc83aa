"""A crash anywhere between file write and commit leaves no row without a file; orphans swept.

The ingest runs in a child process that SIGKILLs itself at an injected point
(``GUARDIAN_FAULTS``); the parent then inspects the store, retries the same upload
(exactly one capture results) and runs the cleanup sweep.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from guardian.common.db import session_factory
from guardian.common.seal import Sealer
from guardian.edge.capture.cleanup import run_cleanup
from guardian.edge.capture.ingest import ingest_capture
from guardian.edge.capture.staging import TMP_PREFIX, uri_to_path
from guardian.edge.config import CaptureSettings, RetentionSettings
from guardian.edge.context import EdgeContext
from guardian.edge.store.devices import add_device
from guardian.edge.store.tables import Capture, Job
from tests.capture_helpers import jpeg_bytes
from tests.edge_fixtures import EdgeDb

DEVICE = "door-pi"
SEQ = 17
CAPTURED_AT = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
REPO = Path(__file__).resolve().parents[4]


def make_ctx(db: EdgeDb) -> EdgeContext:
    """A context whose cleanup sweeps orphans at once and may delete any share of files."""
    settings = db.settings.model_copy(
        update={
            "capture": CaptureSettings(min_free_bytes=0),
            "retention": RetentionSettings(orphan_grace_seconds=0, max_delete_fraction=1.0),
        }
    )
    return EdgeContext(settings, db.engine, session_factory(db.engine), Sealer(os.urandom(32)))


def run_child(db: EdgeDb, image: Path, fault: str) -> subprocess.CompletedProcess[str]:
    """The ingest in a fresh process with ``fault`` armed."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("GUARDIAN_EDGE_") and k != "GUARDIAN_FAULTS"
    }
    env["GUARDIAN_FAULTS"] = fault
    db_url = "" if db.dialect == "sqlite" else db.url
    cmd = [
        sys.executable,
        "-m",
        "tests.integration.edge.capture.ingest_child",
        str(db.settings.data_dir),
        db_url,
        DEVICE,
        str(SEQ),
        CAPTURED_AT.isoformat(),
        str(image),
    ]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


def rows_and_jobs(ctx: EdgeContext) -> tuple[list[Capture], list[Job]]:
    with ctx.sessions() as session:
        return list(session.scalars(select(Capture))), list(session.scalars(select(Job)))


def day_dir(ctx: EdgeContext) -> Path:
    return ctx.settings.media_dir / "captures" / DEVICE / "2024" / "05" / "01"


def files(ctx: EdgeContext) -> list[Path]:
    folder = day_dir(ctx)
    return sorted(folder.iterdir()) if folder.exists() else []


def assert_no_row_without_its_file(ctx: EdgeContext, data: bytes) -> None:
    rows, _ = rows_and_jobs(ctx)
    for row in rows:
        assert uri_to_path(row.storage_uri).read_bytes() == data, row.id


@pytest.mark.parametrize(
    "fault", ["after_tmp_write", "after_rename", "before_commit", "after_commit"]
)
def test_a_crash_between_file_and_commit_loses_nothing_and_the_orphan_is_swept(
    edge_db: EdgeDb, tmp_path: Path, fault: str
) -> None:
    ctx = make_ctx(edge_db)
    with ctx.sessions.begin() as session:
        add_device(session, ctx.sealer, DEVICE)
    data = jpeg_bytes(seed=SEQ)
    image = tmp_path / "upload.jpg"
    image.write_bytes(data)

    child = run_child(edge_db, image, fault)
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert child.stdout == ""  # it died before answering

    rows, jobs = rows_and_jobs(ctx)
    left = files(ctx)
    assert_no_row_without_its_file(ctx, data)
    if fault == "after_commit":
        (row,) = rows
        assert [j.ref_id for j in jobs] == [row.id]
        assert left == [uri_to_path(row.storage_uri)]
        orphans: list[Path] = []
    else:
        assert (rows, jobs) == ([], [])
        (orphan,) = left  # the file outlived its process; no row points at it
        assert orphan.name.startswith(TMP_PREFIX) == (fault == "after_tmp_write")
        assert orphan.read_bytes() == data
        orphans = [orphan]

    # The device retries the same upload (it never got an answer): exactly one capture.
    first = ingest_capture(ctx, DEVICE, SEQ, CAPTURED_AT, data)
    again = ingest_capture(ctx, DEVICE, SEQ, CAPTURED_AT, data)
    assert first.duplicate == (fault == "after_commit")
    assert (again.duplicate, again.capture_id) == (True, first.capture_id)
    rows, jobs = rows_and_jobs(ctx)
    (row,) = rows
    assert row.id == first.capture_id
    assert [j.ref_id for j in jobs] == [row.id]
    kept = uri_to_path(row.storage_uri)
    assert sorted(files(ctx)) == sorted([kept, *orphans])

    report = run_cleanup(ctx, dry_run=False, force=False)
    assert report.refused is None, report.refused
    assert sorted(report.orphans_removed + report.tmp_removed) == sorted(str(p) for p in orphans)
    assert files(ctx) == [kept]
    assert kept.read_bytes() == data
    assert_no_row_without_its_file(ctx, data)
    # Sweeping again changes nothing.
    assert run_cleanup(ctx, dry_run=False, force=False).changed == 0
