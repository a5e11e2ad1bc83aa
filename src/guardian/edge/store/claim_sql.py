"""SQL of queue claims: which job a worker leases next, built once with bound parameters.

Parameters: ``p_now``, ``p_stale_before``, ``p_kinds``, ``p_worker``, ``p_limit`` (jobs
leased at most), ``p_after_key`` (for round-robin statements) and ``p_ids`` (PostgreSQL's
second step).
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import (
    BigInteger,
    Integer,
    String,
    and_,
    any_,
    bindparam,
    case,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import aliased

from guardian.common.db_types import UtcDateTime
from guardian.edge.store.tables import Job

# Claim statements take their values as bound parameters so each is built once (building
# these ORM statements costs more than running them).
_NOW = bindparam("p_now", type_=UtcDateTime())
_STALE_BEFORE = bindparam("p_stale_before", type_=UtcDateTime())
_KINDS = bindparam("p_kinds", expanding=True, type_=String())
_AFTER_KEY = bindparam("p_after_key", type_=String())
_WORKER = bindparam("p_worker", type_=String())
_IDS = bindparam("p_ids", type_=ARRAY(BigInteger()))
_LIMIT = bindparam("p_limit", type_=Integer())
# PostgreSQL: how many devices' next jobs one claim tries to lock (others may hold some).
PG_CANDIDATES = 16
# PostgreSQL: rounds of ranking and locking before a claim gives up (all taken meanwhile).
PG_ROUNDS = 3


def _stale(job: Any) -> Any:
    return or_(job.heartbeat_at.is_(None), job.heartbeat_at < _STALE_BEFORE)


def _claimable(job: Any) -> Any:
    """Due and queued, or running on a stale lease with attempts left."""
    return or_(
        and_(job.state == "queued", job.run_after <= _NOW),
        and_(job.state == "running", _stale(job), job.attempts < job.max_attempts),
    )


def _ranked(round_robin: bool, limit: Any) -> Any:
    """SELECT each device's next claimable job id, the device to serve first on top.

    One pass over the active jobs grouped by ``fair_key`` (no join, no window: the cost
    stays linear in the backlog). Devices with fewer jobs in flight come first, so many
    workers spread over devices; then round-robin after ``after_key``; then the oldest.
    """
    # An alias: this runs inside ``UPDATE jobs`` on SQLite and must not correlate with it.
    jobs = aliased(Job, name="active_jobs")
    in_flight = and_(jobs.state == "running", jobs.heartbeat_at >= _STALE_BEFORE)
    heads = (
        select(
            jobs.fair_key.label("fair_key"),
            func.min(case((_claimable(jobs), jobs.id))).label("next_id"),
            func.sum(case((in_flight, 1), else_=0)).label("busy"),
        )
        .where(
            jobs.kind.in_(_KINDS),
            or_(jobs.state == "running", and_(jobs.state == "queued", jobs.run_after <= _NOW)),
        )
        .group_by(jobs.fair_key)
        .subquery("heads")
    )
    order: list[Any] = [heads.c.busy]
    if round_robin:
        # The next device after the one this worker served last, wrapping around.
        order += [case((heads.c.fair_key > _AFTER_KEY, 0), else_=1), heads.c.fair_key]
    order.append(heads.c.next_id)
    return select(heads.c.next_id).where(heads.c.next_id.is_not(None)).order_by(*order).limit(limit)


def _lease(where: Any) -> Any:
    return (
        update(Job)
        .where(where)
        .values(
            state="running",
            locked_by=_WORKER,
            locked_at=_NOW,
            heartbeat_at=_NOW,
            attempts=Job.attempts + 1,
        )
        .returning(Job)
        .execution_options(synchronize_session=False)
    )


@functools.cache
def sqlite_claim(round_robin: bool) -> Any:
    """The SQLite claim: lease the ``p_limit`` best jobs (each the next of another device)
    in one ``UPDATE … RETURNING``."""
    # One statement, inside a BEGIN IMMEDIATE transaction: no other claim interleaves.
    return _lease(Job.id.in_(_ranked(round_robin, _LIMIT)))


@functools.cache
def pg_ranked(round_robin: bool) -> Any:
    """PostgreSQL, step 1: the best candidate ids, unlocked."""
    return _ranked(round_robin, PG_CANDIDATES)


@functools.cache
def pg_claim() -> Any:
    """PostgreSQL, step 2: lease the first ``p_limit`` of ``p_ids`` that are free and still
    claimable."""
    # Lock the best of the ranked candidates nobody else holds (SKIP LOCKED). Claimability
    # is checked again on the row version locked: one claimed meanwhile is passed over.
    cand = aliased(Job, name="cand")
    first_free = (
        select(cand.id)
        .where(cand.id == any_(_IDS), _claimable(cand))
        .order_by(func.array_position(_IDS, cand.id))
        .limit(_LIMIT)
        .with_for_update(skip_locked=True)
    )
    return _lease(Job.id.in_(first_free))


@functools.cache
def exhausted_statement() -> Any:
    """Stale leases on their last attempt (they die instead of being rescued)."""
    return (
        select(Job.id)
        .where(
            Job.kind.in_(_KINDS),
            Job.state == "running",
            _stale(Job),
            Job.attempts >= Job.max_attempts,
        )
        .with_for_update(skip_locked=True)
    )
