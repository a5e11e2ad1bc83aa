"""Group commit: concurrent uploads' rows share one transaction, each answered once durable.

Each ingest thread adds its capture to a pending list, then takes the commit lock; the
thread that gets it (the leader) commits everything pending in one transaction and hands
every waiter its own outcome, so N concurrent uploads cost one transaction (one WAL
append on SQLite, one flush on PostgreSQL) instead of N serialized ones. Nobody is
answered before the transaction holding its row has committed. If the batch hits a
constraint (a concurrent retry of the same ``device_seq``), it is rolled back and each
row is committed on its own, so only the offending upload sees the conflict.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, bindparam, insert, update
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError

from guardian.common import faults
from guardian.edge.store.jobs import job_values
from guardian.edge.store.tables import Capture, Device, Job

logger = logging.getLogger(__name__)

# A batch bigger than this is split: it bounds one transaction's length (and the wait of
# the first upload in it) under a flood.
MAX_BATCH = 64

# Keyed weakly by the engine (one per store): the committer holds no reference
# back, so a disposed context and its engine are freed as before.
_COMMITTERS: weakref.WeakKeyDictionary[Engine, GroupCommitter] = weakref.WeakKeyDictionary()
_REGISTRY_LOCK = threading.Lock()


class CommitUncertain(Exception):
    """COMMIT was sent but did not answer: the row may or may not exist (keep the file)."""


@dataclass
class PendingCapture:
    """One upload's row waiting for a group commit, and later its outcome."""

    row: dict[str, Any]
    job_kind: str
    max_attempts: int
    received_at: dt.datetime
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None

    def outcome(self) -> None:
        """Return once committed; raise the batch's error for this row otherwise."""
        if not self.done.is_set():
            raise RuntimeError("group commit finished without settling this capture")
        if self.error is not None:
            raise self.error


class GroupCommitter:
    """Commits pending captures (and their jobs) in shared transactions; see module doc."""

    def __init__(self) -> None:
        self._leader = threading.Lock()
        self._pending_lock = threading.Lock()
        self._pending: list[PendingCapture] = []

    @property
    def pending(self) -> int:
        """Captures waiting for the next transaction (for tests and metrics)."""
        with self._pending_lock:
            return len(self._pending)

    def commit(self, engine: Engine, item: PendingCapture) -> None:
        """Block until ``item``'s row is committed (or raise why it was not)."""
        with self._pending_lock:
            self._pending.append(item)
        try:
            while not item.done.is_set():
                with self._leader:
                    if item.done.is_set():  # a previous leader committed it
                        break
                    with self._pending_lock:
                        batch = self._pending[:MAX_BATCH]
                        del self._pending[:MAX_BATCH]
                    if batch:
                        self._run(engine, batch)
        except BaseException as exc:
            if self._withdraw(item):
                raise  # never handed to a transaction: nothing of it is stored
            if not item.done.is_set():
                # A leader holds it mid-transaction: it may yet commit, so keep its file.
                raise CommitUncertain("interrupted while its transaction was running") from exc
            raise
        item.outcome()

    def _withdraw(self, item: PendingCapture) -> bool:
        """Take ``item`` back out of the pending list; ``False`` if a leader has it."""
        with self._pending_lock:
            for i, waiting in enumerate(self._pending):
                if waiting is item:
                    del self._pending[i]
                    return True
        return False

    def _run(self, engine: Engine, batch: list[PendingCapture]) -> None:
        try:
            try:
                _commit_rows(engine, batch)
            except IntegrityError:
                if len(batch) == 1:
                    raise
                # Someone in the batch collided; commit each alone so only it fails.
                for one in batch:
                    self._run(engine, [one])
                return
        except BaseException as exc:
            for one in batch:
                if not one.done.is_set():
                    one.error = exc
                    one.done.set()
            if not isinstance(exc, Exception):
                raise
            return
        for one in batch:
            one.done.set()


_INSERT_CAPTURES = insert(Capture)
_INSERT_JOBS = insert(Job)
_TOUCH_DEVICE = (
    update(Device)
    .where(Device.id == bindparam("p_device"))
    .values(last_seen_at=bindparam("p_when"))
)


def _commit_rows(engine: Engine, batch: Sequence[PendingCapture]) -> None:
    """Insert the batch's captures and jobs, touch its devices, and commit — one transaction.

    Core statements on a connection (not ORM units of work): these run for every upload.
    """
    last_seen: dict[str, dt.datetime] = {}
    for one in batch:
        device = one.row["device_id"]
        last_seen[device] = max(one.received_at, last_seen.get(device, one.received_at))
    if engine.dialect.name == "postgresql":
        _commit_rows_pg(engine, batch, last_seen)
        return
    committing = False
    try:
        with engine.connect() as conn:
            conn.execute(_INSERT_CAPTURES, [one.row for one in batch])
            conn.execute(_INSERT_JOBS, _job_rows(batch))
            conn.execute(
                _TOUCH_DEVICE,
                [{"p_device": d, "p_when": w} for d, w in sorted(last_seen.items())],
            )
            faults.hit("before_commit")
            committing = True
            conn.commit()
    except IntegrityError:
        raise
    except Exception as exc:
        if committing:
            raise CommitUncertain(f"commit outcome unknown: {exc}") from exc
        raise


# PostgreSQL: the whole batch in one statement (one round trip, its own transaction)
# where the Core path makes six (ping, BEGIN, three statements, COMMIT) — each a wake-up
# of the server's backend, several milliseconds apiece on a loaded box. The columns and
# values are those of the Core path (``job_values``, the JSON ``null`` payload included).
_PG_GROUP_INSERT = """
WITH new_captures AS (
    INSERT INTO captures (id, device_id, device_seq, sha256, size_bytes, content_type, width,
                          height, captured_at, received_at, storage_uri, status, file_state)
    SELECT * FROM unnest(
        %(c_id)s::varchar[], %(c_device)s::varchar[], %(c_seq)s::bigint[],
        %(c_sha256)s::varchar[], %(c_size)s::bigint[], %(c_type)s::varchar[],
        %(c_width)s::integer[], %(c_height)s::integer[], %(c_captured)s::timestamptz[],
        %(c_received)s::timestamptz[], %(c_uri)s::text[], %(c_status)s::varchar[],
        %(c_file_state)s::varchar[])
    RETURNING 1
), new_jobs AS (
    INSERT INTO jobs (kind, ref_id, fair_key, payload, state, attempts, max_attempts,
                      run_after, created_at)
    SELECT kind, ref_id, fair_key, payload::json, state, attempts, max_attempts, run_after,
           created_at
    FROM unnest(
        %(j_kind)s::varchar[], %(j_ref)s::varchar[], %(j_fair)s::varchar[],
        %(j_payload)s::text[], %(j_state)s::varchar[], %(j_attempts)s::integer[],
        %(j_max)s::integer[], %(j_run_after)s::timestamptz[], %(j_created)s::timestamptz[])
        AS j(kind, ref_id, fair_key, payload, state, attempts, max_attempts, run_after,
             created_at)
    RETURNING 1
), seen AS (
    UPDATE devices SET last_seen_at = v.seen
    FROM unnest(%(d_id)s::varchar[], %(d_seen)s::timestamptz[]) AS v(id, seen)
    WHERE devices.id = v.id
    RETURNING 1
)
SELECT (SELECT count(*) FROM new_captures), (SELECT count(*) FROM new_jobs)
"""
_CAPTURE_COLUMNS = {
    "c_id": "id",
    "c_device": "device_id",
    "c_seq": "device_seq",
    "c_sha256": "sha256",
    "c_size": "size_bytes",
    "c_type": "content_type",
    "c_width": "width",
    "c_height": "height",
    "c_captured": "captured_at",
    "c_received": "received_at",
    "c_uri": "storage_uri",
    "c_status": "status",
    "c_file_state": "file_state",
}
_JOB_COLUMNS = {
    "j_kind": "kind",
    "j_ref": "ref_id",
    "j_fair": "fair_key",
    "j_state": "state",
    "j_attempts": "attempts",
    "j_max": "max_attempts",
    "j_run_after": "run_after",
    "j_created": "created_at",
}


def _job_rows(batch: Sequence[PendingCapture]) -> list[dict[str, Any]]:
    """The detection job of each capture of the batch, as ``jobs`` row values."""
    return [
        job_values(
            one.job_kind,
            one.row["id"],
            fair_key=one.row["device_id"],
            max_attempts=one.max_attempts,
        )
        for one in batch
    ]


def _commit_rows_pg(
    engine: Engine, batch: Sequence[PendingCapture], last_seen: dict[str, dt.datetime]
) -> None:
    """``_commit_rows`` on PostgreSQL: one autocommit statement (see ``_PG_GROUP_INSERT``)."""
    jobs = _job_rows(batch)
    params: dict[str, list[Any]] = {
        name: [one.row[column] for one in batch] for name, column in _CAPTURE_COLUMNS.items()
    }
    params |= {name: [job[column] for job in jobs] for name, column in _JOB_COLUMNS.items()}
    params["j_payload"] = [json.dumps(job["payload"]) for job in jobs]  # as the JSON type
    devices = sorted(last_seen.items())
    params["d_id"] = [device for device, _ in devices]
    params["d_seen"] = [when for _, when in devices]
    for name in ("c_captured", "c_received", "j_run_after", "j_created", "d_seen"):
        params[name] = [when.astimezone(dt.UTC) for when in params[name]]  # as UtcDateTime
    with engine.connect() as conn:
        auto = conn.execution_options(isolation_level="AUTOCOMMIT")
        faults.hit("before_commit")
        try:
            # An IntegrityError refuses the statement as a whole: nothing of the batch is
            # stored, and it goes up as it is.
            counts = auto.exec_driver_sql(_PG_GROUP_INSERT, params).one()
        except (OperationalError, InterfaceError) as exc:
            # Sent, and the connection failed: the statement may have committed.
            raise CommitUncertain(f"commit outcome unknown: {exc}") from exc
        auto.commit()  # nothing left to commit; tells "commit" listeners it happened
    if tuple(counts) != (len(batch), len(batch)):
        raise RuntimeError(f"group commit stored {tuple(counts)} rows of {len(batch)}")


def committer(engine: Engine) -> GroupCommitter:
    """The process's committer for the store behind ``engine`` (made on first use)."""
    with _REGISTRY_LOCK:
        found = _COMMITTERS.get(engine)
        if found is None:
            found = _COMMITTERS[engine] = GroupCommitter()
        return found
