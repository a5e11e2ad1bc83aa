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

from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from guardian.common.db import session_factory, utcnow
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
    now = now or utcnow()
    params: dict[str, Any] = {
        "p_now": now,
        "p_stale_before": now - dt.timedelta(seconds=lease_seconds),
        "p_kinds": list(kinds),
        "p_worker": worker_id,
    }
    if after_key is not None:
        params["p_after_key"] = after_key
    round_robin = after_key is not None
    with _sessions(source).begin() as session:
        _bury_exhausted(session, params)
        job: Job | None = None
        if session.get_bind().dialect.name == "postgresql":
            for _ in range(PG_ROUNDS):  # candidates may all be taken between the two steps
                ids = list(session.scalars(pg_ranked(round_robin), params))
                if not ids:
                    break
                job = session.scalars(pg_claim(), {**params, "p_ids": ids}).one_or_none()
                if job is not None:
                    break
        else:
            job = session.scalars(sqlite_claim(round_robin), params).one_or_none()
        if job is not None:
            session.expunge(job)  # usable after commit whatever the factory's settings
    return job


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
