"""The cleanup job: capture retention, orphan sweep and file/row reconciliation."""

from __future__ import annotations

import datetime as dt
import logging
import os
import stat
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import ColumnElement, select, update

from guardian.edge.capture.cleanup_plan import (
    MISSING,
    PRESENT,
    PRUNED,
    UNPROCESSED,
    CleanupPlan,
    FileKey,
    FileSnap,
    RowSnap,
    plan_cleanup,
)
from guardian.edge.capture.staging import captures_root, uri_to_path
from guardian.edge.context import EdgeContext
from guardian.edge.store.tables import Capture

logger = logging.getLogger(__name__)

BATCH = 200  # rows per transaction: short write locks on SQLite, bounded IN lists


@dataclass
class CleanupReport:
    """What a cleanup run did (or, when not ``applied``, would do)."""

    dry_run: bool = False
    forced: bool = False
    applied: bool = False
    refused: str | None = None
    files_present: int = 0
    pruned: list[str] = field(default_factory=list)  # capture ids
    marked_missing: list[str] = field(default_factory=list)  # capture ids
    restored: list[str] = field(default_factory=list)  # capture ids
    leftovers_removed: list[str] = field(default_factory=list)  # paths
    orphans_removed: list[str] = field(default_factory=list)  # paths
    tmp_removed: list[str] = field(default_factory=list)  # paths
    orphans_in_grace: int = 0
    errors: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def finish(self) -> CleanupReport:
        """Fill ``counts`` from the lists (call once the lists are final)."""
        self.counts = {
            "pruned": len(self.pruned),
            "marked_missing": len(self.marked_missing),
            "restored": len(self.restored),
            "leftovers_removed": len(self.leftovers_removed),
            "orphans_removed": len(self.orphans_removed),
            "tmp_removed": len(self.tmp_removed),
            "errors": len(self.errors),
        }
        return self

    @property
    def changed(self) -> int:
        """Rows and files this run changed."""
        return sum(n for name, n in self.counts.items() if name != "errors") if self.applied else 0


def _local_path(storage_uri: str) -> Path | None:
    try:
        return uri_to_path(storage_uri)
    except ValueError:  # not a local file: nothing cleanup can check or delete
        return None


def file_key(path: Path | None) -> FileKey | None:
    """The identity of the regular file at ``path``, or None when there is none.

    Only "no such file" counts as absent: any other error (permissions, I/O) propagates,
    so an unreadable disk never gets every row marked missing.
    """
    if path is None:
        return None
    try:
        st = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISREG(st.st_mode) else None


def scan_files(root: Path) -> Iterator[FileSnap]:
    """Regular files under ``root`` (symlinks are neither followed nor reported)."""
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            path = Path(dirpath, name)
            try:
                st = path.stat(follow_symlinks=False)
            except FileNotFoundError:  # removed while we walked
                continue
            if stat.S_ISREG(st.st_mode):
                mtime = dt.datetime.fromtimestamp(st.st_mtime, dt.UTC)
                yield FileSnap(path, (st.st_dev, st.st_ino), mtime)


_COLUMNS = (
    Capture.id,
    Capture.captured_at,
    Capture.received_at,
    Capture.status,
    Capture.file_state,
    Capture.storage_uri,
)


def _load_rows(ctx: EdgeContext, condition: ColumnElement[bool]) -> list[RowSnap]:
    with ctx.sessions() as session:
        found = session.execute(select(*_COLUMNS).where(condition)).all()
    snaps = []
    for cid, captured_at, received_at, status, file_state, uri in found:
        path = _local_path(uri)
        snaps.append(
            RowSnap(cid, captured_at, received_at, status, file_state, path, file_key(path))
        )
    return snaps


def take_snapshot(ctx: EdgeContext) -> tuple[list[RowSnap], list[FileSnap]]:
    """Rows that may own a file, and the files under ``<media>/captures``.

    Rows are read before the listing, so a row committed meanwhile (file first, then row)
    cannot look missing; files whose row was not loaded are looked up by id afterwards, so
    a row committed during the listing is found too.
    """
    rows = _load_rows(ctx, Capture.file_state.in_((PRESENT, MISSING)))
    files = list(scan_files(captures_root(ctx.settings.media_dir)))
    owned = {row.file_key for row in rows}
    known = {row.id for row in rows}
    wanted = sorted(
        {f.path.name.split(".", 1)[0] for f in files if not f.is_tmp and f.key not in owned} - known
    )
    for start in range(0, len(wanted), BATCH):
        rows += _load_rows(ctx, Capture.id.in_(wanted[start : start + BATCH]))
    return rows, files


def _unlink(path: Path, report: CleanupReport) -> bool:
    try:
        path.unlink(missing_ok=True)  # a concurrent run may have got there first
    except OSError as exc:
        logger.warning(
            "cleanup could not delete a file", extra={"path": str(path), "error": str(exc)}
        )
        report.errors.append(f"{path}: {exc}")
        return False
    return True


def _set_state(
    ctx: EdgeContext,
    rows: Sequence[RowSnap],
    *,
    to: str,
    when: tuple[str, ...],
    now: dt.datetime,
    prune: bool = False,
) -> list[RowSnap]:
    """Move rows still in a ``when`` state to ``to``, a batch per transaction; returns the moved.

    The guard in the WHERE clause re-checks under the write lock what the plan assumed, so a
    concurrent run or a worker that changed the row meanwhile wins.
    """
    moved: list[RowSnap] = []
    for start in range(0, len(rows), BATCH):
        with ctx.sessions.begin() as session:
            for row in rows[start : start + BATCH]:
                stmt = update(Capture).where(Capture.id == row.id, Capture.file_state.in_(when))
                if prune:
                    stmt = stmt.where(Capture.status != UNPROCESSED)
                stmt = stmt.values(file_state=to, file_state_at=now).returning(Capture.id)
                if session.scalar(stmt) is not None:
                    moved.append(row)
    return moved


def _apply(ctx: EdgeContext, plan: CleanupPlan, now: dt.datetime, report: CleanupReport) -> None:
    # Re-check the disk right before each row change: the plan may be seconds old.
    gone = [row for row in plan.mark_missing if file_key(row.path) is None]
    moved = _set_state(ctx, gone, to=MISSING, when=(PRESENT,), now=now)
    report.marked_missing = [row.id for row in moved]
    back = [row for row in plan.restore if file_key(row.path) is not None]
    moved = _set_state(ctx, back, to=PRESENT, when=(MISSING,), now=now)
    report.restored = [row.id for row in moved]

    # Commit "pruned" first, unlink after. A crash in between leaves a file whose row already
    # says pruned, which the next run deletes as a leftover; the other order could leave a
    # row saying present with no file. So a file is only deleted once no row needs it.
    moved = _set_state(ctx, plan.prune, to=PRUNED, when=(PRESENT, MISSING), now=now, prune=True)
    report.pruned = [row.id for row in moved]
    for row in moved:
        if row.path is not None:
            _unlink(row.path, report)  # on failure the next run retries it as a leftover
    for paths, done in (
        (plan.leftovers, report.leftovers_removed),
        (plan.orphans, report.orphans_removed),
        (plan.tmp, report.tmp_removed),
    ):
        done.extend(str(path) for path in paths if _unlink(path, report))


def _planned(plan: CleanupPlan, report: CleanupReport) -> None:
    report.pruned = [row.id for row in plan.prune]
    report.marked_missing = [row.id for row in plan.mark_missing]
    report.restored = [row.id for row in plan.restore]
    report.leftovers_removed = [str(path) for path in plan.leftovers]
    report.orphans_removed = [str(path) for path in plan.orphans]
    report.tmp_removed = [str(path) for path in plan.tmp]


_METRIC_ACTIONS = {
    "pruned": "pruned",
    "marked_missing": "missing",
    "restored": "restored",
    "leftovers_removed": "leftover",
    "orphans_removed": "orphan",
    "tmp_removed": "tmp",
}


def run_cleanup(
    ctx: EdgeContext, *, dry_run: bool = False, force: bool = False, now: dt.datetime | None = None
) -> CleanupReport:
    """Apply retention and reconcile files with rows; see ``RetentionSettings``.

    Plans first over a snapshot; refuses (changing nothing) when the plan would delete more
    than ``max_delete_fraction`` of the capture files unless ``force``; ``dry_run`` only
    reports the plan. Running it again right after changes nothing.
    """
    now = now or dt.datetime.fromtimestamp(ctx.clock(), dt.UTC)
    rows, files = take_snapshot(ctx)
    plan = plan_cleanup(rows, files, now=now, retention=ctx.settings.retention, force=force)
    report = CleanupReport(
        dry_run=dry_run,
        forced=force,
        refused=plan.refused,
        files_present=plan.files_present,
        orphans_in_grace=plan.orphans_in_grace,
    )
    if plan.refused:
        logger.warning("cleanup refused", extra={"reason": plan.refused})
    if dry_run or plan.refused:
        _planned(plan, report)
        return report.finish()
    _apply(ctx, plan, now, report)
    report.applied = True
    report.finish()
    for name, action in _METRIC_ACTIONS.items():
        if report.counts[name]:
            ctx.metrics.cleanup_files.labels(action=action).inc(report.counts[name])
    if report.changed or report.errors:
        logger.info("cleanup done", extra=dict(report.counts))
    return report


class CleanupMaintainer(threading.Thread):
    """Runs :func:`run_cleanup` every ``retention.interval_seconds`` until ``stop_event``."""

    def __init__(
        self,
        ctx: EdgeContext,
        stop_event: threading.Event,
        *,
        interval: float | None = None,
        first_delay: float | None = None,
    ) -> None:
        super().__init__(name="cleanup", daemon=True)
        self.interval = ctx.settings.retention.interval_seconds if interval is None else interval
        if self.interval <= 0:
            raise ValueError("cleanup interval must be positive (0 disables the maintainer)")
        # Soon after start too: an edge restarted more often than the interval still cleans.
        self.first_delay = min(self.interval, 60.0) if first_delay is None else first_delay
        self._ctx = ctx
        self._stop_event = stop_event
        self.runs = 0
        self.last_report: CleanupReport | None = None

    def run(self) -> None:
        delay = self.first_delay
        while not self._stop_event.wait(delay):
            delay = self.interval
            try:
                self.last_report = run_cleanup(self._ctx)
            except Exception:  # the maintainer must outlive one bad run (e.g. DB restarting)
                logger.exception("cleanup run failed")
            self.runs += 1
