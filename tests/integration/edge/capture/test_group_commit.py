"""Group commit: concurrent uploads share a transaction, yet each is answered only once its
own row is committed, and one bad row fails alone (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError

from guardian.edge.capture.group_commit import GroupCommitter, PendingCapture
from guardian.edge.capture.ingest import ingest_capture
from guardian.edge.context import EdgeContext
from guardian.edge.store.devices import add_device
from guardian.edge.store.jobs import KIND_DETECT_CAPTURE
from guardian.edge.store.tables import Capture, Device, Job
from tests.capture_helpers import jpeg_bytes
from tests.integration.edge.capture.conftest import MakeContext

pytestmark = pytest.mark.parametrize("edge_db", ["sqlite", "postgres"], indirect=True)

NOW = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)


def _pending(device: str, seq: int) -> PendingCapture:
    received = NOW + dt.timedelta(seconds=seq)
    row: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "device_id": device,
        "device_seq": seq,
        "sha256": "0" * 64,
        "size_bytes": 1,
        "content_type": "image/jpeg",
        "width": 1,
        "height": 1,
        "captured_at": NOW,
        "received_at": received,
        "storage_uri": f"file:///nowhere/{seq}.jpg",
        "status": "stored",
        "file_state": "present",
    }
    return PendingCapture(row, KIND_DETECT_CAPTURE, 5, received)


def _commit_all(
    make_ctx: MakeContext, items: list[PendingCapture]
) -> tuple[EdgeContext, list[BaseException | None], int]:
    """Commit ``items`` from one thread each while the first transaction is held open
    until all the others wait; returns the context, each outcome and the commit count."""
    ctx = make_ctx()
    with ctx.sessions.begin() as session:
        add_device(session, ctx.sealer, "cam")
    committer = GroupCommitter()
    commits = 0
    gate = threading.Event()

    def on_commit(_conn: Any) -> None:
        nonlocal commits
        commits += 1
        gate.wait(10)  # the first leader holds its transaction until the rest queue up

    event.listen(ctx.engine, "commit", on_commit)
    outcomes: list[BaseException | None] = [None] * len(items)

    def run(i: int) -> None:
        try:
            committer.commit(ctx.engine, items[i])
        except BaseException as exc:
            outcomes[i] = exc

    threads = [threading.Thread(target=run, args=(0,))]
    threads[0].start()
    deadline = time.monotonic() + 10
    while commits == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    threads += [threading.Thread(target=run, args=(i,)) for i in range(1, len(items))]
    for t in threads[1:]:
        t.start()
    while committer.pending < len(items) - 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    gate.set()
    for t in threads:
        t.join(30)
    event.remove(ctx.engine, "commit", on_commit)
    return ctx, outcomes, commits


def test_waiting_uploads_commit_together_in_one_transaction(make_ctx: MakeContext) -> None:
    items = [_pending("cam", seq) for seq in range(12)]
    ctx, outcomes, commits = _commit_all(make_ctx, items)
    assert outcomes == [None] * 12
    assert commits == 2  # the first alone, then the eleven that queued behind it
    with ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Capture)) == 12
        jobs = session.scalars(select(Job.ref_id).where(Job.state == "queued")).all()
        assert sorted(jobs) == sorted(i.row["id"] for i in items)
        seen = session.scalar(select(Device.last_seen_at).where(Device.id == "cam"))
        assert seen == NOW + dt.timedelta(seconds=11)  # the latest of the batch


def test_a_colliding_row_fails_alone_and_its_batch_still_commits(make_ctx: MakeContext) -> None:
    items = [_pending("cam", seq) for seq in range(6)] + [_pending("cam", 3)]
    ctx, outcomes, _ = _commit_all(make_ctx, items)
    failed = [i for i, out in enumerate(outcomes) if out is not None]
    assert len(failed) == 1 and isinstance(outcomes[failed[0]], IntegrityError)
    with ctx.sessions() as session:
        stored = set(session.scalars(select(Capture.id)))
    assert stored == {i.row["id"] for n, i in enumerate(items) if n != failed[0]}


def test_a_row_that_cannot_commit_leaves_no_file(make_ctx: MakeContext) -> None:
    ctx = make_ctx(capture={"min_free_bytes": 0})
    # No such device: the row breaks its foreign key, so nothing commits and the file goes.
    with pytest.raises(IntegrityError):
        ingest_capture(ctx, "ghost", 0, NOW, jpeg_bytes())
    assert not [p for p in ctx.settings.media_dir.rglob("*") if p.is_file()]
    with ctx.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Capture)) == 0
