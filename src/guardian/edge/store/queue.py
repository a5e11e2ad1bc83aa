"""The leased job queue: fair claims, heartbeats, completion, retries with backoff, dead jobs.

A claimed job is owned by ``(locked_by, attempts)``: every claim bumps ``attempts``, so a
worker whose lease was rescued (even by a worker reusing its name) can no longer
heartbeat, complete or fail the job. Claims spread over ``fair_key`` (the device), each
device's jobs in order: first the devices with the fewest jobs in flight, then
round-robin after the caller's ``after_key``, then the oldest waiting job. The SQL is
in ``claim_sql``: one ``UPDATE … WHERE id = (SELECT …)`` on SQLite; on PostgreSQL a
ranking, then the best free candidate locked with ``FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, bindparam, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from guardian.common.db import session_factory, utcnow
from guardian.common.db_types import UtcDateTime
from guardian.edge.store.backoff import Backoff
from guardian.edge.store.claim_sql import (
    PG_ROUNDS,
    exhausted_statement,
    pg_claim,
    pg_ranked,
    sqlite_claim,
)
from guardian.edge.store.tables import Job

logger = logging.getLogger(__name__)

JOB_STATES = ("queued", "running", "done", "dead")
MAX_ERROR_CHARS = 4000
SessionSource = Engine | sessionmaker[Session]


def _sessions(source: SessionSource) -> sessionmaker[Session]:
    return source if isinstance(source, sessionmaker) else session_factory(source)


def _bury_exhausted(session: Session, params: dict[str, Any]) -> None:
    """Mark dead the stale leases that used their last attempt (e.g. a job that kills workers)."""
    ids = list(session.scalars(exhausted_statement(), params))
    if not ids:
        return
    session.execute(
        update(Job)
        .where(Job.id.in_(ids))
        .values(
            state="dead",
            finished_at=params["p_now"],
            last_error=func.coalesce(Job.last_error + "; ", "")
            + "lease expired on the last attempt (worker died or hung)",
        )
        .execution_options(synchronize_session=False)
    )
    logger.warning("jobs dead after their last lease expired", extra={"job_ids": ids})


def claim(
    source: SessionSource,
    worker_id: str,
    *,
    kinds: Sequence[str],
    lease_seconds: float,
    now: dt.datetime | None = None,
    after_key: str | None = None,
) -> Job | None:
    """Lease the next due job of ``kinds`` to ``worker_id`` in its own transaction.

    Claimable: queued with ``run_after <= now``, or running with a heartbeat older than
    ``lease_seconds`` (its worker is presumed dead; any worker rescues it). The claimed
    job is ``running`` with ``attempts`` bumped; ``None`` when nothing is due.
    ``after_key``: the ``fair_key`` this worker served last, for round-robin.
    """
    jobs = claim_many(
        source,
        worker_id,
        kinds=kinds,
        lease_seconds=lease_seconds,
        now=now,
        after_key=after_key,
        limit=1,
    )
    return jobs[0] if jobs else None


def claim_many(
    source: SessionSource,
    worker_id: str,
    *,
    kinds: Sequence[str],
    lease_seconds: float,
    limit: int,
    now: dt.datetime | None = None,
    after_key: str | None = None,
) -> list[Job]:
    """Lease up to ``limit`` due jobs, each the next of a different ``fair_key``, in one
    transaction; the order is the one ``claim`` would have served them in.

    The ranking picks each key's oldest claimable job, keys with fewer jobs in flight
    first, then round-robin after ``after_key`` — so a batch spreads over devices and
    never holds two jobs of one device. Empty when nothing is due.
    """
    if limit < 1:
        raise ValueError("limit must be >= 1")
    now = now or utcnow()
    params: dict[str, Any] = {
        "p_now": now,
        "p_stale_before": now - dt.timedelta(seconds=lease_seconds),
        "p_kinds": list(kinds),
        "p_worker": worker_id,
        "p_limit": limit,
    }
    if after_key is not None:
        params["p_after_key"] = after_key
    round_robin = after_key is not None
    with _sessions(source).begin() as session:
        _bury_exhausted(session, params)
        jobs: list[Job] = []
        if session.get_bind().dialect.name == "postgresql":
            for _ in range(PG_ROUNDS):  # candidates may all be taken between the two steps
                ids = list(session.scalars(pg_ranked(round_robin), params))
                if not ids:
                    break
                jobs = list(session.scalars(pg_claim(), {**params, "p_ids": ids}))
                if jobs:
                    break
        else:
            jobs = list(session.scalars(sqlite_claim(round_robin), params))
        for job in jobs:
            session.expunge(job)  # usable after commit whatever the factory's settings
    # RETURNING has no order: serve the batch round-robin from after_key, as claims would.
    jobs.sort(key=lambda j: (after_key is not None and j.fair_key <= after_key, j.fair_key, j.id))
    return jobs


def _owned(job_id: int, worker_id: str, attempt: int | None) -> list[Any]:
    clauses = [Job.id == job_id, Job.state == "running", Job.locked_by == worker_id]
    if attempt is not None:
        clauses.append(Job.attempts == attempt)
    return clauses


def heartbeat(
    source: SessionSource,
    job_id: int,
    worker_id: str,
    *,
    attempt: int | None = None,
    now: dt.datetime | None = None,
) -> bool:
    """Renew the lease in its own transaction; ``False`` if the job is no longer ours."""
    with _sessions(source).begin() as session:
        result = session.execute(
            update(Job)
            .where(*_owned(job_id, worker_id, attempt))
            .values(heartbeat_at=now or utcnow())
            .execution_options(synchronize_session=False)
        )
        return _rowcount(result) == 1


def complete(session: Session, job: Job, worker_id: str, *, now: dt.datetime | None = None) -> bool:
    """Mark ``job`` done in the caller's transaction if the lease is still ours.

    Call it first in the transaction that stores the job's result: on PostgreSQL the
    update locks the row, so a rescuing worker cannot finish the job at the same time.
    ``False`` means the lease was lost; the caller must roll back its result.
    """
    result = session.execute(
        update(Job)
        .where(*_owned(job.id, worker_id, job.attempts))
        .values(state="done", finished_at=now or utcnow(), heartbeat_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result) == 1


# One statement for a whole batch of completions (``complete_many``).
_COMPLETE = (
    update(Job)
    .where(
        Job.id == bindparam("p_id"),
        Job.state == "running",
        Job.locked_by == bindparam("p_worker"),
        Job.attempts == bindparam("p_attempt"),
    )
    .values(
        state="done",
        finished_at=bindparam("p_now", type_=UtcDateTime()),
        heartbeat_at=bindparam("p_now", type_=UtcDateTime()),
    )
)


def complete_many(
    session: Session, jobs: Sequence[Job], worker_id: str, *, now: dt.datetime | None = None
) -> list[bool]:
    """``complete`` for several jobs in one statement; whether each lease was still ours.

    Like ``complete``, call it first in the transaction that stores the results.
    """
    if not jobs:
        return []
    now = now or utcnow()
    conn = session.connection()
    params = [
        {"p_id": job.id, "p_worker": worker_id, "p_attempt": job.attempts, "p_now": now}
        for job in jobs
    ]
    result = conn.execute(_COMPLETE, params)
    if conn.dialect.supports_sane_multi_rowcount and _rowcount(result) == len(jobs):
        return [True] * len(jobs)
    # Some lease was lost (or the driver cannot count): see which rows we did finish.
    ours = {
        (job_id, attempts)
        for job_id, attempts in conn.execute(
            select(Job.id, Job.attempts).where(
                Job.id.in_([job.id for job in jobs]),
                Job.state == "done",
                Job.locked_by == worker_id,
                Job.finished_at == now,
            )
        )
    }
    return [(job.id, job.attempts) in ours for job in jobs]


def fail(
    session: Session,
    job: Job,
    worker_id: str,
    error: str,
    *,
    backoff: Backoff,
    now: dt.datetime | None = None,
    permanent: bool = False,
    rng: random.Random | None = None,
) -> str | None:
    """Record a failed attempt in the caller's transaction; returns the new state.

    ``queued`` again after a jittered, capped exponential delay, or ``dead`` (kept, with
    ``last_error``) once ``max_attempts`` are used or the error is ``permanent``.
    ``None`` if the lease was lost (the rescuing worker owns the job now).
    """
    now = now or utcnow()
    error = error[:MAX_ERROR_CHARS]
    values: dict[str, Any]
    if permanent or job.attempts >= job.max_attempts:
        values = {"state": "dead", "last_error": error, "finished_at": now}
    else:
        delay = backoff.delay(job.attempts, rng)
        values = {
            "state": "queued",
            "last_error": error,
            "run_after": now + dt.timedelta(seconds=delay),
            "locked_by": None,
            "locked_at": None,
            "heartbeat_at": None,
        }
    result = session.execute(
        update(Job)
        .where(*_owned(job.id, worker_id, job.attempts))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if _rowcount(result) != 1:
        return None
    state: str = values["state"]
    return state


def depth(session: Session) -> dict[str, int]:
    """Number of jobs per state (every known state present, zero if empty)."""
    counts = dict.fromkeys(JOB_STATES, 0)
    for state, count in session.execute(select(Job.state, func.count()).group_by(Job.state)):
        counts[state] = int(count)
    return counts


def _rowcount(result: Any) -> int:
    count: int = result.rowcount
    return count
