"""The capture worker with the real SSD detector on real photos, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from guardian.edge.capture.worker import CaptureWorker
from guardian.edge.context import EdgeContext
from guardian.edge.detect.detector import Detector
from guardian.edge.events.store import OUTBOX_TOPIC, event_json
from guardian.edge.store.jobs import KIND_DETECT_CAPTURE
from guardian.edge.store.queue import claim, claim_many, heartbeat
from guardian.edge.store.tables import Capture, Event, EventCapture, Job, Outbox
from tests.integration.edge.capture.conftest import MakeContext
from tests.integration.edge.capture.seed import T0, add_capture, add_device

pytestmark = pytest.mark.model


def _worker(ctx: EdgeContext, detector: Detector, name: str = "w1") -> CaptureWorker:
    return CaptureWorker(ctx, detector, threading.Event(), name)


def _drain(worker: CaptureWorker) -> list[str]:
    outcomes = []
    while (outcome := worker.run_once()) is not None:
        outcomes.append(outcome)
    return outcomes


def _events(s: Session, device: str) -> list[Event]:
    return list(
        s.scalars(select(Event).where(Event.source_id == device).order_by(Event.started_at))
    )


def _outbox(s: Session, event_id: str) -> list[Outbox]:
    return list(s.scalars(select(Outbox).where(Outbox.key == event_id).order_by(Outbox.id)))


def _duration_count(ctx: EdgeContext, outcome: str) -> float:
    value = ctx.metrics.registry.get_sample_value(
        "guardian_job_duration_seconds_count", {"kind": KIND_DETECT_CAPTURE, "outcome": outcome}
    )
    return value or 0.0


def test_a_person_makes_an_interaction_event_with_its_outbox_message(
    make_ctx: MakeContext, ssd: Detector
) -> None:
    ctx = make_ctx()
    with ctx.sessions.begin() as s:
        add_device(s, "pi-1")
        cap = add_capture(s, ctx.settings, "pi-1", "astronaut", seq=1)
    assert _drain(_worker(ctx, ssd)) == ["done"]

    with ctx.sessions() as s:
        capture = s.get(Capture, cap.capture_id)
        assert capture is not None
        assert (capture.status, capture.person_count) == ("processed", 1)
        assert capture.processed_at is not None and capture.detections is not None
        assert capture.detections["model"] == ssd.provenance.to_json()
        people = [d for d in capture.detections["items"] if d["label"] == "person"]
        assert len(people) == 1
        job = s.scalars(select(Job)).one()
        assert (job.state, job.attempts, job.locked_by) == ("done", 1, "w1")

        (event,) = _events(s, "pi-1")
        assert (event.type, event.source_kind, event.version) == (
            "interaction_detected",
            "device",
            1,
        )
        assert event.person_count == 1
        assert event.best_score == pytest.approx(people[0]["score"], abs=1e-3)
        assert event.started_at == event.ended_at == T0
        assert event.details["capture_ids"] == [cap.capture_id]
        (box,) = event.details["boxes"][cap.capture_id]
        x1, y1, x2, y2 = box["box"]
        assert x1 < 150 < x2 and y1 < 250 < y2  # around the astronaut (512x512 photo)
        assert event.details["models"] == [ssd.provenance.to_json()]
        links = s.scalars(select(EventCapture)).all()
        assert [(lk.event_id, lk.capture_id) for lk in links] == [(event.id, cap.capture_id)]
        (message,) = _outbox(s, event.id)
        assert message.topic == OUTBOX_TOPIC
        assert message.payload == event_json(event)
        assert message.payload["version"] == 1
    assert _duration_count(ctx, "done") == 1


def test_a_capture_without_people_is_processed_and_makes_no_event(
    make_ctx: MakeContext, ssd: Detector
) -> None:
    ctx = make_ctx()
    with ctx.sessions.begin() as s:
        add_device(s, "pi-1")
        cap = add_capture(s, ctx.settings, "pi-1", "coffee", seq=1)
    assert _drain(_worker(ctx, ssd)) == ["done"]
    with ctx.sessions() as s:
        capture = s.get(Capture, cap.capture_id)
        assert capture is not None
        assert (capture.status, capture.person_count) == ("processed", 0)
        assert s.scalar(select(func.count()).select_from(Event)) == 0
        assert s.scalar(select(func.count()).select_from(Outbox)) == 0


def test_captures_3s_apart_join_one_event_and_30s_apart_make_two(
    make_ctx: MakeContext, ssd: Detector
) -> None:
    ctx = make_ctx()
    with ctx.sessions.begin() as s:
        add_device(s, "near")
        add_device(s, "far")
        near = [
            add_capture(s, ctx.settings, "near", "astronaut", seq=i, seconds=3 * i) for i in (0, 1)
        ]
        far = [
            add_capture(s, ctx.settings, "far", "astronaut", seq=i, seconds=30 * i) for i in (0, 1)
        ]
        add_capture(s, ctx.settings, "near", "coffee", seq=2, seconds=1)
    assert _drain(_worker(ctx, ssd)) == ["done"] * 5

    with ctx.sessions() as s:
        (event,) = _events(s, "near")
        assert event.details["capture_ids"] == [c.capture_id for c in near]
        assert (event.started_at, event.ended_at) == (T0, T0 + dt.timedelta(seconds=3))
        assert event.person_count == 1 and event.version == 2
        messages = _outbox(s, event.id)
        assert [m.payload["version"] for m in messages] == [1, 2]
        assert [len(m.payload["details"]["capture_ids"]) for m in messages] == [1, 2]
        assert messages[-1].payload == event_json(event)

        events = _events(s, "far")
        assert [e.details["capture_ids"] for e in events] == [[c.capture_id] for c in far]
        assert all(len(_outbox(s, e.id)) == 1 for e in events)


def test_a_late_capture_from_before_an_event_joins_it(make_ctx: MakeContext, ssd: Detector) -> None:
    ctx = make_ctx()
    with ctx.sessions.begin() as s:
        add_device(s, "pi-1")
        later = add_capture(s, ctx.settings, "pi-1", "astronaut", seq=2, seconds=6)
        s.flush()  # its job first
        earlier = add_capture(s, ctx.settings, "pi-1", "astronaut", seq=1, seconds=0)
    assert _drain(_worker(ctx, ssd)) == ["done", "done"]
    with ctx.sessions() as s:
        (event,) = _events(s, "pi-1")
        assert event.details["capture_ids"] == [earlier.capture_id, later.capture_id]
        assert event.started_at == T0


def test_a_missing_file_fails_the_job_marks_the_capture_then_goes_dead(
    make_ctx: MakeContext, ssd: Detector
) -> None:
    ctx = make_ctx(queue={"max_attempts": 2, "backoff_base_seconds": 5.0})
    with ctx.sessions.begin() as s:
        add_device(s, "pi-1")
        cap = add_capture(s, ctx.settings, "pi-1", "astronaut", seq=1)
    cap.path.unlink()
    clock = [time.time()]  # a controlled clock, from after the job was queued
    ctx.clock = lambda: clock[0]
    worker = _worker(ctx, ssd)

    assert worker.run_once() == "retry"
    with ctx.sessions() as s:
        job = s.scalars(select(Job)).one()
        capture = s.get(Capture, cap.capture_id)
        assert capture is not None
        assert (capture.file_state, capture.status) == ("missing", "stored")
        assert job.state == "queued" and job.last_error is not None
        assert "missing" in job.last_error and str(cap.path) in job.last_error
        retry_at = job.run_after

    clock[0] = retry_at.timestamp() + 0.01
    assert worker.run_once() == "dead"
    assert worker.run_once() is None
    with ctx.sessions() as s:
        job = s.scalars(select(Job)).one()
        capture = s.get(Capture, cap.capture_id)
        assert capture is not None
        assert (job.state, job.attempts) == ("dead", 2)
        assert job.last_error is not None and str(cap.path) in job.last_error
        assert (capture.file_state, capture.status) == ("missing", "failed")
        assert s.scalar(select(func.count()).select_from(Event)) == 0
    assert _duration_count(ctx, "retry") == 1 and _duration_count(ctx, "dead") == 1


def test_a_worker_whose_lease_was_rescued_drops_its_result(
    make_ctx: MakeContext, ssd: Detector
) -> None:
    ctx = make_ctx()
    lease = ctx.settings.queue.lease_seconds
    with ctx.sessions.begin() as s:
        add_device(s, "pi-1")
        cap = add_capture(s, ctx.settings, "pi-1", "astronaut", seq=1)
    now = dt.datetime.now(dt.UTC)
    kinds = (KIND_DETECT_CAPTURE,)
    old_job = claim(ctx.sessions, "slow", kinds=kinds, lease_seconds=lease, now=now)
    rescue_at = now + dt.timedelta(seconds=lease + 1)
    new_job = claim(ctx.sessions, "rescuer", kinds=kinds, lease_seconds=lease, now=rescue_at)
    assert old_job is not None and new_job is not None

    assert _worker(ctx, ssd, "slow").process(old_job) == "lost"
    with ctx.sessions() as s:
        capture = s.get(Capture, cap.capture_id)
        assert capture is not None and capture.status == "stored"
        assert s.scalar(select(func.count()).select_from(Event)) == 0

    assert _worker(ctx, ssd, "rescuer").process(new_job) == "done"
    with ctx.sessions() as s:
        (event,) = _events(s, "pi-1")
        assert event.version == 1
        assert s.scalar(select(func.count()).select_from(Outbox)) == 1
        job = s.scalars(select(Job)).one()
        assert (job.state, job.locked_by, job.attempts) == ("done", "rescuer", 2)
    assert _duration_count(ctx, "lost") == 1


def test_the_worker_thread_serves_devices_until_stopped(
    make_ctx: MakeContext, ssd: Detector
) -> None:
    ctx = make_ctx(queue={"poll_seconds": 0.05, "heartbeat_seconds": 0.05})
    stop = threading.Event()
    worker = CaptureWorker(ctx, ssd, stop, "threaded")
    worker.start()
    try:
        with ctx.sessions.begin() as s:
            for device in ("a", "b"):
                add_device(s, device)
                for i in range(3):
                    add_capture(
                        s, ctx.settings, device, "coffee", seq=i, seconds=i, size=(320, 240)
                    )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with ctx.sessions() as s:
                done = s.scalar(select(func.count()).where(Job.state == "done"))
            if done == 6:
                break
            time.sleep(0.05)
    finally:
        stop.set()
        worker.join(30)
    assert not worker.is_alive()
    with ctx.sessions() as s:
        assert s.scalar(select(func.count()).where(Capture.status == "processed")) == 6
        assert set(s.scalars(select(Job.attempts))) == {1}


def _claim_batch(ctx: EdgeContext, worker: str, limit: int, now: dt.datetime) -> list[Job]:
    return claim_many(
        ctx.sessions,
        worker,
        kinds=(KIND_DETECT_CAPTURE,),
        lease_seconds=ctx.settings.queue.lease_seconds,
        limit=limit,
        now=now,
    )


def test_a_batch_of_devices_is_stored_in_one_transaction(
    make_ctx: MakeContext, ssd: Detector
) -> None:
    ctx = make_ctx()
    with ctx.sessions.begin() as s:
        for device in ("pi-a", "pi-b", "pi-c"):
            add_device(s, device)
            add_capture(s, ctx.settings, device, "astronaut", seq=1)
            add_capture(s, ctx.settings, device, "coffee", seq=2, seconds=1)
    jobs = _claim_batch(ctx, "w1", 3, dt.datetime.now(dt.UTC))
    assert len({j.fair_key for j in jobs}) == 3

    commits = 0

    def on_commit(_conn: object) -> None:
        nonlocal commits
        commits += 1

    sa_event.listen(ctx.engine, "commit", on_commit)
    try:
        assert _worker(ctx, ssd).process_many(jobs) == ["done"] * 3
    finally:
        sa_event.remove(ctx.engine, "commit", on_commit)
    assert commits == 1  # three jobs, their captures, events and outbox rows: one commit
    with ctx.sessions() as s:
        assert {
            j.state for j in s.scalars(select(Job).where(Job.id.in_([j.id for j in jobs])))
        } == {"done"}
        for device in ("pi-a", "pi-b", "pi-c"):
            (made,) = _events(s, device)
            assert made.version == 1 and len(_outbox(s, made.id)) == 1
    # The rest (the coffee photos) go the same way; every job was run once.
    assert _drain(_worker(ctx, ssd)) == ["done"] * 3
    with ctx.sessions() as s:
        assert s.scalar(select(func.count()).where(Capture.status == "processed")) == 6
        assert set(s.scalars(select(Job.attempts))) == {1}
    assert _duration_count(ctx, "done") == 6


def test_a_failing_job_of_a_batch_fails_alone(make_ctx: MakeContext, ssd: Detector) -> None:
    ctx = make_ctx()
    with ctx.sessions.begin() as s:
        caps = []
        for device in ("pi-a", "pi-b", "pi-c"):
            add_device(s, device)
            caps.append(add_capture(s, ctx.settings, device, "astronaut", seq=1))
    caps[1].path.unlink()
    worker = _worker(ctx, ssd)
    assert worker.run_batch(3) == ["done", "retry", "done"]
    with ctx.sessions() as s:
        states = {c.id: (c.status, c.file_state) for c in s.scalars(select(Capture))}
        assert states == {
            caps[0].capture_id: ("processed", "present"),
            caps[1].capture_id: ("stored", "missing"),
            caps[2].capture_id: ("processed", "present"),
        }
        assert len(_events(s, "pi-a")) == len(_events(s, "pi-c")) == 1
        assert _events(s, "pi-b") == []


def test_a_rescued_job_of_a_batch_is_dropped_and_the_others_are_stored(
    make_ctx: MakeContext, ssd: Detector
) -> None:
    ctx = make_ctx()
    lease = ctx.settings.queue.lease_seconds
    with ctx.sessions.begin() as s:
        caps = []
        for device in ("pi-a", "pi-b"):
            add_device(s, device)
            caps.append(add_capture(s, ctx.settings, device, "astronaut", seq=1))
    now = dt.datetime.now(dt.UTC)
    jobs = _claim_batch(ctx, "slow", 2, now)
    assert [j.ref_id for j in jobs] == [c.capture_id for c in caps]
    later = now + dt.timedelta(seconds=lease + 1)
    assert heartbeat(ctx.sessions, jobs[0].id, "slow", attempt=jobs[0].attempts, now=later)
    rescued = _claim_batch(ctx, "rescuer", 2, later)
    assert [j.ref_id for j in rescued] == [caps[1].capture_id]

    assert _worker(ctx, ssd, "slow").process_many(jobs) == ["done", "lost"]
    with ctx.sessions() as s:
        assert len(_events(s, "pi-a")) == 1 and _events(s, "pi-b") == []
        capture = s.get(Capture, caps[1].capture_id)
        assert capture is not None and capture.status == "stored"
    assert _worker(ctx, ssd, "rescuer").process(rescued[0]) == "done"
    with ctx.sessions() as s:
        (made,) = _events(s, "pi-b")
        assert made.version == 1 and len(_outbox(s, made.id)) == 1
