"""The cleanup planner: pure decisions over a snapshot of capture rows and media files."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from guardian.edge.capture.staging import TMP_PREFIX
from guardian.edge.config import RetentionSettings

# (st_dev, st_ino): one file however its path is spelt (symlinked data dirs, relative paths).
FileKey = tuple[int, int]

PRESENT, PRUNED, MISSING = "present", "pruned", "missing"
# A capture the worker has not processed yet still needs its file, however old it is.
UNPROCESSED = "stored"


@dataclass(frozen=True, slots=True)
class RowSnap:
    """A capture row as cleanup sees it, with the identity of its file if one exists."""

    id: str
    captured_at: dt.datetime
    received_at: dt.datetime
    status: str
    file_state: str
    path: Path | None
    file_key: FileKey | None  # None: no regular file at ``path``


@dataclass(frozen=True, slots=True)
class FileSnap:
    """A regular file found under ``<media>/captures``."""

    path: Path
    key: FileKey
    mtime: dt.datetime

    @property
    def is_tmp(self) -> bool:
        """An upload still being written, or abandoned by a crash."""
        return self.path.name.startswith(TMP_PREFIX)


@dataclass(frozen=True, slots=True)
class CleanupPlan:
    """What one cleanup run would do, and whether it may (``refused`` says why not)."""

    prune: tuple[RowSnap, ...]  # past retention: mark pruned, then delete the file
    leftovers: tuple[Path, ...]  # files of rows already pruned (a run died before unlinking)
    orphans: tuple[Path, ...]  # capture files no row owns, older than the grace period
    tmp: tuple[Path, ...]  # abandoned ``.tmp-*`` uploads, older than the grace period
    mark_missing: tuple[RowSnap, ...]  # rows saying present whose file is gone
    restore: tuple[RowSnap, ...]  # rows marked missing whose file is back
    orphans_in_grace: int  # files without a row left alone: they may be uploads in flight
    files_present: int  # capture files on disk (not counting ``.tmp-*``)
    refused: str | None = None

    @property
    def deletions(self) -> int:
        """Capture files this plan deletes (what the safety fraction limits)."""
        return len(self.prune) + len(self.leftovers) + len(self.orphans)

    @property
    def is_empty(self) -> bool:
        """Whether there is nothing to do (a refused plan may still be non-empty)."""
        return not (self.deletions or self.tmp or self.mark_missing or self.restore)


def is_expired(row: RowSnap, cutoff: dt.datetime) -> bool:
    """Whether a row's file is past retention and no longer needed by the worker.

    Age counts from the later of ``captured_at`` and ``received_at``: a device with a wrong
    clock, or one delivering an old backlog, does not get its images deleted on arrival.
    """
    return row.status != UNPROCESSED and max(row.captured_at, row.received_at) < cutoff


def refusal(deletions: int, files_present: int, max_fraction: float) -> str | None:
    """Why a run deleting ``deletions`` of ``files_present`` files must not go ahead, if so."""
    if deletions == 0 or deletions <= max_fraction * files_present:
        return None
    share = deletions / files_present if files_present else 1.0
    return (
        f"would delete {deletions} of {files_present} capture files ({share:.0%}), more than "
        f"max_delete_fraction {max_fraction:.0%}; check the media and database, then run "
        "with force to allow it"
    )


def plan_cleanup(
    rows: Iterable[RowSnap],
    files: Iterable[FileSnap],
    *,
    now: dt.datetime,
    retention: RetentionSettings,
    force: bool = False,
) -> CleanupPlan:
    """Decide retention prunes, orphan and temp sweeps and row reconciliation.

    ``rows`` must hold every row whose file is present or missing, plus the rows owning
    any of ``files``; files are matched to rows by identity, never by name.
    """
    rows, files = list(rows), list(files)  # iterated more than once
    cutoff = now - dt.timedelta(days=retention.capture_days)
    grace_cutoff = now - dt.timedelta(seconds=retention.orphan_grace_seconds)
    prune: list[RowSnap] = []
    leftovers: list[Path] = []
    missing: list[RowSnap] = []
    restore: list[RowSnap] = []
    for row in rows:
        if row.file_key is None or row.path is None:
            if row.file_state == PRESENT:
                missing.append(row)
        elif row.file_state == PRUNED:
            leftovers.append(row.path)
        elif is_expired(row, cutoff):
            prune.append(row)
        elif row.file_state == MISSING:
            restore.append(row)

    owned = {row.file_key for row in rows if row.file_key is not None}
    orphans: list[Path] = []
    tmp: list[Path] = []
    in_grace = 0
    for file in files:
        if file.key in owned:
            continue
        if file.mtime >= grace_cutoff:
            in_grace += 1
        elif file.is_tmp:
            tmp.append(file.path)
        else:
            orphans.append(file.path)

    files_present = sum(1 for file in files if not file.is_tmp)
    deletions = len(prune) + len(leftovers) + len(orphans)
    refused = None if force else refusal(deletions, files_present, retention.max_delete_fraction)
    return CleanupPlan(
        prune=tuple(prune),
        leftovers=tuple(leftovers),
        orphans=tuple(orphans),
        tmp=tuple(tmp),
        mark_missing=tuple(missing),
        restore=tuple(restore),
        orphans_in_grace=in_grace,
        files_present=files_present,
        refused=refused,
    )
