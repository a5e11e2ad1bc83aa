"""The pure cleanup planner: retention, grace period, reconciliation, the deletion cap."""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import replace
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from guardian.edge.capture.cleanup_plan import (
    CleanupPlan,
    FileSnap,
    RowSnap,
    plan_cleanup,
    refusal,
)
from guardian.edge.config import RetentionSettings

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
ROOT = Path("/media/captures/pi")
RETENTION = RetentionSettings(capture_days=30, max_delete_fraction=1.0, orphan_grace_seconds=300)
_keys = itertools.count(1)


def row(
    name: str,
    *,
    age_days: float = 1.0,
    state: str = "present",
    file: bool = True,
    status: str = "processed",
    received_age_days: float | None = None,
) -> RowSnap:
    captured = NOW - dt.timedelta(days=age_days)
    received = NOW - dt.timedelta(days=age_days if received_age_days is None else received_age_days)
    key = (1, next(_keys)) if file else None
    return RowSnap(name, captured, received, status, state, ROOT / f"{name}.jpg", key)


def file_of(r: RowSnap, age_seconds: float = 86_400.0) -> FileSnap:
    assert r.path is not None and r.file_key is not None
    return FileSnap(r.path, r.file_key, NOW - dt.timedelta(seconds=age_seconds))


def stray(name: str, age_seconds: float) -> FileSnap:
    return FileSnap(ROOT / name, (1, next(_keys)), NOW - dt.timedelta(seconds=age_seconds))


def plan(
    rows: list[RowSnap],
    files: list[FileSnap] | None = None,
    *,
    retention: RetentionSettings = RETENTION,
    force: bool = False,
) -> CleanupPlan:
    if files is None:
        files = [file_of(r) for r in rows if r.file_key is not None]
    return plan_cleanup(rows, files, now=NOW, retention=retention, force=force)


def test_files_past_retention_are_pruned_and_younger_ones_kept() -> None:
    old, edge, young = (
        row("old", age_days=45),
        row("edge", age_days=30.01),
        row("young", age_days=29.9),
    )
    p = plan([old, edge, young])
    assert [r.id for r in p.prune] == ["old", "edge"]
    assert not (p.orphans or p.leftovers or p.mark_missing or p.restore or p.tmp)


def test_age_counts_from_the_later_of_captured_and_received() -> None:
    # A device with a wrong clock (or an old backlog) does not lose images on arrival.
    late = row("late", age_days=400, received_age_days=2)
    assert plan([late]).prune == ()


def test_unprocessed_captures_are_never_pruned() -> None:
    waiting = row("waiting", age_days=90, status="stored")
    failed = row("failed", age_days=90, status="failed")
    assert [r.id for r in plan([waiting, failed]).prune] == ["failed"]


def test_orphans_and_temp_files_are_removed_only_after_the_grace_period() -> None:
    files = [
        stray("old-orphan.jpg", 301),
        stray("new-orphan.jpg", 299),
        stray(".tmp-old", 3600),
        stray(".tmp-new", 10),
    ]
    p = plan([], files)
    assert p.orphans == (ROOT / "old-orphan.jpg",)
    assert p.tmp == (ROOT / ".tmp-old",)
    assert p.orphans_in_grace == 2
    assert p.files_present == 2  # temp files are not capture files


def test_files_are_matched_to_rows_by_identity_not_name() -> None:
    owner = row("abc")
    assert owner.path is not None and owner.file_key is not None
    # Same file reached through another path (e.g. a symlinked data dir): still owned.
    alias = FileSnap(Path("/elsewhere/abc.jpg"), owner.file_key, NOW - dt.timedelta(days=3))
    # A different file that happens to carry the row's name: an orphan.
    copy = FileSnap(ROOT / "copy" / "abc.jpg", (9, 9), NOW - dt.timedelta(days=3))
    p = plan([owner], [alias, copy])
    assert p.orphans == (copy.path,)


def test_rows_whose_file_vanished_are_marked_missing_once() -> None:
    gone = row("gone", file=False)
    already = row("already", state="missing", file=False)
    pruned = row("pruned", state="pruned", file=False, age_days=60)
    p = plan([gone, already, pruned])
    assert [r.id for r in p.mark_missing] == ["gone"]
    assert p.deletions == 0


def test_a_missing_file_that_came_back_is_restored_or_pruned_if_expired() -> None:
    back = row("back", state="missing")
    back_old = row("back-old", state="missing", age_days=60)
    p = plan([back, back_old])
    assert [r.id for r in p.restore] == ["back"]
    assert [r.id for r in p.prune] == ["back-old"]


def test_a_file_left_behind_by_an_interrupted_prune_is_deleted() -> None:
    leftover = row("leftover", state="pruned", age_days=60)
    assert plan([leftover]).leftovers == (leftover.path,)


def test_refuses_to_delete_more_than_the_fraction_unless_forced() -> None:
    rows = [row(f"old{i}", age_days=60) for i in range(2)] + [row(f"new{i}") for i in range(2)]
    capped = RetentionSettings(capture_days=30, max_delete_fraction=0.25)
    refused = plan(rows, retention=capped)
    assert refused.refused is not None and "2 of 4" in refused.refused
    assert "force" in refused.refused
    assert len(refused.prune) == 2  # the plan still says what it would have done
    assert plan(rows, retention=capped, force=True).refused is None


def test_the_fraction_counts_orphans_and_allows_exactly_the_limit() -> None:
    rows = [row(f"new{i}") for i in range(3)]
    files = [*(file_of(r) for r in rows), stray("orphan.jpg", 3600)]
    capped = RetentionSettings(max_delete_fraction=0.25)
    assert plan(rows, files, retention=capped).refused is None  # 1 of 4 is exactly 25 %
    files.append(stray("orphan2.jpg", 3600))
    assert plan(rows, files, retention=capped).refused is not None  # 2 of 5


def test_refusal_edge_cases() -> None:
    assert refusal(0, 0, 0.25) is None
    assert refusal(1, 0, 1.0) is not None  # deleting files the listing did not even see
    assert refusal(5, 5, 1.0) is None


# Property: applying a plan leaves nothing for a second run to do.

_rows = st.lists(
    st.tuples(
        st.floats(0, 90),
        st.sampled_from(["present", "pruned", "missing"]),
        st.booleans(),
        st.sampled_from(["stored", "processed", "failed"]),
    ),
    max_size=12,
)
_strays = st.lists(
    st.tuples(st.sampled_from(["orphan", ".tmp-up"]), st.floats(0, 3600)), max_size=6
)


def _apply(
    rows: list[RowSnap], files: list[FileSnap], p: CleanupPlan
) -> tuple[list[RowSnap], list[FileSnap]]:
    """What the executor does to the snapshot, in miniature."""
    deleted = {*p.leftovers, *p.orphans, *p.tmp, *(r.path for r in p.prune)}
    new_state = {r.id: "pruned" for r in p.prune}
    new_state |= {r.id: "missing" for r in p.mark_missing}
    new_state |= {r.id: "present" for r in p.restore}
    after_rows = [
        replace(
            r,
            file_state=new_state.get(r.id, r.file_state),
            file_key=None if r.path in deleted else r.file_key,
        )
        for r in rows
    ]
    return after_rows, [f for f in files if f.path not in deleted]


@given(_rows, _strays)
def test_a_second_run_right_after_has_nothing_to_do(
    row_specs: list[tuple[float, str, bool, str]], strays: list[tuple[str, float]]
) -> None:
    rows = [
        row(f"r{i}", age_days=age, state=state, file=has_file, status=status)
        for i, (age, state, has_file, status) in enumerate(row_specs)
    ]
    files = [file_of(r) for r in rows if r.file_key is not None]
    files += [stray(f"{prefix}{i}", age) for i, (prefix, age) in enumerate(strays)]
    after_rows, after_files = _apply(rows, files, plan(rows, files, force=True))
    # No row says present without a file; an unprocessed capture keeps a file it had.
    assert all(r.file_key is not None for r in after_rows if r.file_state == "present")
    for before, after in zip(rows, after_rows, strict=True):
        if before.status == "stored" and before.file_state != "pruned" and before.file_key:
            assert after.file_key is not None
    assert plan(after_rows, after_files, force=True).is_empty
