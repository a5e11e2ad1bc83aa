"""The leased job queue on SQLite and PostgreSQL: fair claims, rescue, retries, dead, depth."""

from __future__ import annotations

import datetime as dt
import random
import threading
from collections import Counter
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from guardian.common.db import session_factory, utcnow
from guardian.edge.store.backoff import Backoff, ceiling
from guardian.edge.store.jobs import KIND_DETECT_CAPTURE, enqueue
from guardian.edge.store.queue import (
    claim,
    claim_many,
    complete,
    complete_many,
    depth,
    fail,
    heartbeat,
)
from guardian.edge.store.tables import Job
from tests.edge_fixtures import EdgeDb

KINDS = (KIND_DETECT_CAPTURE,)
LEASE = 30.0
BACKOFF = Backoff(base=2.0, cap=300.0)


def _enqueue(sessions: sessionmaker[Session], *refs: str, max_attempts: int = 5) -> None:
    """Jobs in the given order; a ref ``"A3"`` belongs to device ``"A"``."""
    with sessions.begin() as s:
        for ref in refs:
            enqueue(s, KIND_DETECT_CAPTURE, ref, fair_key=ref[0], max_attempts=max_attempts)
            s.flush()  # ids follow the given order


def _claim(
    sessions: sessionmaker[Session],
    worker: str = "w1",
    now: dt.datetime | None = None,
    after_key: str | None = None,
) -> Job | None:
    return claim(
        sessions,
        worker,
        kinds=KINDS,
        lease_seconds=LEASE,
        now=now or utcnow(),
        after_key=after_key,
    )


def _job(sessions: sessionmaker[Session], ref: str) -> Job:
    with sessions() as s:
        job = s.scalars(select(Job).where(Job.ref_id == ref)).one()
        s.expunge(job)
        return job


def test_claims_are_fifo_per_device_and_round_robin_across_devices(edge_db: EdgeDb) -> None:
    sessions = session_factory(edge_db.engine)
    _enqueue(sessions, "A1", "A2", "A3", "B1", "C1", "B2")
    order = []
    while (job := _claim(sessions)) is not None:
        order.append(job.ref_id)
    assert order == ["A1", "B1", "C1", "A2", "B2", "A3"]


def test_one_worker_rotates_devices_so_a_chatty_one_cannot_starve_the_rest(
    edge_db: EdgeDb,
) -> None:
    sessions = session_factory(edge_db.engine)
    _enqueue(sessions, *(f"A{i}" for i in range(40)), "B0", "C0", "B1")
    order, last = [], None
    for _ in range(6):
        job = _claim(sessions, after_key=last)
        assert job is not None
        with sessions.begin() as s:
            assert complete(s, job, "w1")
        order.append(job.ref_id)
        last = job.fair_key
    assert order == ["A0", "B0", "C0", "A1", "B1", "A2"]


def _claim_many(
    sessions: sessionmaker[Session],
    limit: int,
    worker: str = "w1",
    now: dt.datetime | None = None,
    after_key: str | None = None,
) -> list[Job]:
    return claim_many(
        sessions,
        worker,
        kinds=KINDS,
        lease_seconds=LEASE,
        limit=limit,
        now=now or utcnow(),
        after_key=after_key,
    )


def test_a_batch_claim_takes_the_next_job_of_as_many_devices_in_round_robin_order(
    edge_db: EdgeDb,
) -> None:
    sessions = session_factory(edge_db.engine)
    _enqueue(sessions, "A1", "A2", "A3", "B1", "C1", "B2", "D1")
    first = _claim_many(sessions, 3)
    assert [j.ref_id for j in first] == ["A1", "B1", "C1"]
    assert {(j.state, j.locked_by, j.attempts) for j in first} == {("running", "w1", 1)}
    # Round-robin after the last device served; devices with a job in flight go last.
    second = _claim_many(sessions, 3, after_key=first[-1].fair_key)
    assert [j.ref_id for j in second] == ["D1", "A2", "B2"]
    assert [j.ref_id for j in _claim_many(sessions, 3)] == ["A3"]
    assert _claim_many(sessions, 3) == []


def _drain_concurrently(
    sessions: sessionmaker[Session],
    refs: list[str],
    workers: int,
    step: Callable[[str], list[str]],
) -> None:
    """Run ``step(worker name)`` on ``workers`` threads until it returns no job refs; every
    job of ``refs`` must have been handed out, and completed, exactly once."""
    claimed: list[str] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            while done := step(name):
                with lock:
                    claimed.extend(done)
        except BaseException as exc:  # surfaced in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert Counter(claimed) == Counter(refs)
    with sessions() as s:
        assert depth(s)["done"] == len(refs)
        assert set(s.scalars(select(Job.attempts))) == {1}


def test_batch_claims_of_concurrent_workers_never_share_a_job(edge_db: EdgeDb) -> None:
    sessions = session_factory(edge_db.engine)
    refs = [f"{d}{i}" for i in range(12) for d in "ABCDEF"]
    _enqueue(sessions, *refs)

    def step(name: str) -> list[str]:
        jobs = _claim_many(sessions, 4, name)
        assert len({j.fair_key for j in jobs}) == len(jobs)  # one per device
        if jobs:
            with sessions.begin() as s:
                assert complete_many(s, jobs, name) == [True] * len(jobs)
        return [j.ref_id for j in jobs]

    _drain_concurrently(sessions, refs, 4, step)


def test_completing_a_batch_reports_each_lease_lost_meanwhile(edge_db: EdgeDb) -> None:
    sessions = session_factory(edge_db.engine)
    _enqueue(sessions, "A1", "B1", "C1")
    t0 = utcnow()
    jobs = _claim_many(sessions, 3, "w1", t0)
    assert [j.ref_id for j in jobs] == ["A1", "B1", "C1"]
    # B1's lease goes stale while A1 and C1 keep beating: a rescuer takes B1 only.
    t1 = t0 + dt.timedelta(seconds=LEASE + 1)
    for job in (jobs[0], jobs[2]):
        assert heartbeat(sessions, job.id, "w1", attempt=job.attempts, now=t1)
    rescued = _claim(sessions, "w2", t1)
    assert rescued is not None and rescued.ref_id == "B1"

    with sessions.begin() as s:
        assert complete_many(s, jobs, "w1", now=t1) == [True, False, True]
    assert (_job(sessions, "B1").state, _job(sessions, "B1").locked_by) == ("running", "w2")
    for ref in ("A1", "C1"):
        done = _job(sessions, ref)
        assert (done.state, done.locked_by, done.finished_at) == ("done", "w1", t1)
    with sessions.begin() as s:
        assert complete_many(s, [rescued], "w2", now=t1) == [True]
        assert complete_many(s, [], "w2") == []


def test_claim_leases_the_job(edge_db: EdgeDb) -> None:
    sessions = session_factory(edge_db.engine)
    _enqueue(sessions, "A1")
    now = utcnow()
    job = _claim(sessions, "w1", now)
    assert job is not None
    assert (job.state, job.locked_by, job.attempts) == ("running", "w1", 1)
    assert job.locked_at == job.heartbeat_at == now
    assert _claim(sessions, "w2", now) is None  # leased: nobody else gets it


def test_only_due_jobs_of_the_asked_kinds_are_claimed(edge_db: EdgeDb) -> None:
    sessions = session_factory(edge_db.engine)
    later = utcnow() + dt.timedelta(seconds=60)
    with sessions.begin() as s:
        enqueue(s, KIND_DETECT_CAPTURE, "A1", fair_key="A", run_after=later)
        enqueue(s, "other_kind", "A2", fair_key="A")
    assert _claim(sessions) is None
    job = _claim(sessions, now=later)
    assert job is not None and job.ref_id == "A1"


def test_a_stale_lease_is_rescued_and_the_old_owner_is_refused(edge_db: EdgeDb) -> None:
    sessions = session_factory(edge_db.engine)
    _enqueue(sessions, "A1")
    t0 = utcnow()
    old = _claim(sessions, "w1", t0)
    assert old is not None
    assert heartbeat(sessions, old.id, "w1", attempt=old.attempts, now=t0 + dt.timedelta(seconds=5))
    # Fresh heartbeat: not rescued even though the claim itself is older than the lease.
    assert _claim(sessions, "w2", t0 + dt.timedelta(seconds=LEASE + 1)) is None
    t1 = t0 + dt.timedelta(seconds=5 + LEASE + 1)
    new = _claim(sessions, "w2", t1)
    assert new is not None and new.id == old.id
    assert (new.locked_by, new.attempts) == ("w2", 2)

    assert not heartbeat(sessions, old.id, "w1", attempt=old.attempts, now=t1)
    with sessions.begin() as s:
        assert not complete(s, old, "w1", now=t1)
        assert fail(s, old, "w1", "late", backoff=BACKOFF, now=t1) is None
    assert heartbeat(sessions, new.id, "w2", attempt=new.attempts, now=t1)
    with sessions.begin() as s:
        assert complete(s, new, "w2", now=t1)
    done = _job(sessions, "A1")
    assert (done.state, done.locked_by, done.attempts, done.finished_at) == ("done", "w2", 2, t1)


def test_a_worker_reusing_its_name_cannot_finish_its_own_rescued_attempt(edge_db: EdgeDb) -> None:
    sessions = session_factory(edge_db.engine)
    _enqueue(sessions, "A1")
    t0 = utcnow()
    first = _claim(sessions, "w1", t0)
    second = _claim(sessions, "w1", t0 + dt.timedelta(seconds=LEASE + 1))
    assert first is not None and second is not None and second.attempts == 2
    with sessions.begin() as s:
        assert not complete(s, first, "w1")
    with sessions.begin() as s:
        assert complete(s, second, "w1")


def test_failures_retry_with_backoff_then_the_job_is_dead_with_its_error(edge_db: EdgeDb) -> None:
    sessions = session_factory(edge_db.engine)
    _enqueue(sessions, "A1", max_attempts=3)
    rng = random.Random(3)
    now = utcnow()
    for attempt in (1, 2):
        job = _claim(sessions, now=now)
        assert job is not None and job.attempts == attempt
        with sessions.begin() as s:
            assert fail(s, job, "w1", f"boom {attempt}", backoff=BACKOFF, now=now, rng=rng) == (
                "queued"
            )
        queued = _job(sessions, "A1")
        assert queued.state == "queued" and queued.last_error == f"boom {attempt}"
        assert queued.locked_by is None and queued.heartbeat_at is None
        delay = (queued.run_after - now).total_seconds()
        assert 0.0 <= delay <= ceiling(attempt, BACKOFF.base, BACKOFF.cap)
        if delay > 0.001:
            assert _claim(sessions, now=now) is None  # not due before its backoff
        now = queued.run_after
    job = _claim(sessions, now=now)
    assert job is not None and job.attempts == 3
    with sessions.begin() as s:
        assert fail(s, job, "w1", "boom 3", backoff=BACKOFF, now=now) == "dead"
    dead = _job(sessions, "A1")
    assert (dead.state, dead.last_error, dead.attempts) == ("dead", "boom 3", 3)
    assert dead.finished_at == now
    assert _claim(sessions, now=now + dt.timedelta(days=1)) is None  # dead stays dead
    with sessions() as s:
        assert depth(s)["dead"] == 1


def test_a_permanent_failure_is_dead_at_once(edge_db: EdgeDb) -> None:
    sessions = session_factory(edge_db.engine)
    _enqueue(sessions, "A1")
    job = _claim(sessions)
    assert job is not None
    with sessions.begin() as s:
        assert fail(s, job, "w1", "no such capture", backoff=BACKOFF, permanent=True) == "dead"
    assert _job(sessions, "A1").state == "dead"


def test_a_stale_lease_on_its_last_attempt_is_dead_not_retried(edge_db: EdgeDb) -> None:
    sessions = session_factory(edge_db.engine)
    _enqueue(sessions, "A1", max_attempts=2)
    t0 = utcnow()
    assert _claim(sessions, "w1", t0) is not None
    t1 = t0 + dt.timedelta(seconds=LEASE + 1)
    assert _claim(sessions, "w2", t1) is not None  # rescue: attempt 2 of 2
    assert _claim(sessions, "w3", t1 + dt.timedelta(seconds=LEASE + 1)) is None
    dead = _job(sessions, "A1")
    assert dead.state == "dead" and dead.attempts == 2
    assert dead.last_error is not None and "lease expired" in dead.last_error


def test_depth_counts_jobs_per_state(edge_db: EdgeDb) -> None:
    sessions = session_factory(edge_db.engine)
    with sessions() as s:
        assert depth(s) == {"queued": 0, "running": 0, "done": 0, "dead": 0}
    _enqueue(sessions, "A1", "A2", "B1", "B2")
    a = _claim(sessions)
    b = _claim(sessions)
    assert a is not None and b is not None
    with sessions.begin() as s:
        complete(s, a, "w1")
        fail(s, b, "w1", "x", backoff=BACKOFF, permanent=True)
    _claim(sessions)
    with sessions() as s:
        assert depth(s) == {"queued": 1, "running": 1, "done": 1, "dead": 1}


def test_concurrent_claims_never_hand_out_a_job_twice(edge_db: EdgeDb) -> None:
    sessions = session_factory(edge_db.engine)
    refs = [f"{d}{i}" for i in range(25) for d in "ABCD"]
    _enqueue(sessions, *refs)

    def step(name: str) -> list[str]:
        job = _claim(sessions, name)
        if job is None:
            return []
        with sessions.begin() as s:
            assert complete(s, job, name)
        return [job.ref_id]

    _drain_concurrently(sessions, refs, 6, step)


def test_postgres_claims_skip_rows_another_transaction_holds(pg_edge_db: EdgeDb) -> None:
    sessions = session_factory(pg_edge_db.engine)
    _enqueue(sessions, "A1", "B1")
    with sessions.begin() as holder:
        # Another claimer mid-transaction holds A1: a claim must not wait for it.
        holder.execute(select(Job.id).where(Job.ref_id == "A1").with_for_update())
        job = _claim(sessions, "w2")
        assert job is not None and job.ref_id == "B1"
        assert _claim(sessions, "w3") is None
    job = _claim(sessions, "w3")
    assert job is not None and job.ref_id == "A1"
