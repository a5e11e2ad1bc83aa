"""A worker killed with SIGKILL mid-job: another worker rescues the job; one event, once."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from guardian.common.db import session_factory
from guardian.edge.detect.config import DetectorSettings
from guardian.edge.store.tables import Capture, Event, EventCapture, Job, Outbox
from tests.edge_fixtures import EdgeDb
from tests.integration.edge.capture.procs import WorkerProcs
from tests.integration.edge.capture.seed import add_capture, add_device

pytestmark = [pytest.mark.model, pytest.mark.slow]


def test_a_job_of_a_killed_worker_is_rescued_and_its_event_made_once(
    edge_db: EdgeDb, worker_procs: WorkerProcs, ssd_settings: DetectorSettings, tmp_path: Path
) -> None:
    sessions = session_factory(edge_db.engine)
    with sessions.begin() as s:
        add_device(s, "pi-1")
        cap = add_capture(s, edge_db.settings, "pi-1", "astronaut", seq=1)

    doomed = worker_procs.start(edge_db, tmp_path / "doomed.log", faults="worker_after_detect")
    assert doomed.wait_exit() == -signal.SIGKILL, doomed.log_text()
    with sessions() as s:
        job = s.scalars(select(Job)).one()
        assert (job.state, job.attempts) == ("running", 1)  # dead owner, lease still held
        first_owner = job.locked_by
        capture = s.get(Capture, cap.capture_id)
        assert capture is not None and capture.status == "stored"
        assert s.scalar(select(func.count()).select_from(Event)) == 0

    rescuer = worker_procs.start(
        edge_db,
        tmp_path / "rescuer.log",
        env={
            "GUARDIAN_EDGE_QUEUE__LEASE_SECONDS": "1",
            "GUARDIAN_EDGE_QUEUE__HEARTBEAT_SECONDS": "0.2",
        },
    )
    deadline = time.monotonic() + 60
    state = "running"
    while state != "done" and time.monotonic() < deadline:
        time.sleep(0.1)
        with sessions() as s:
            state = s.scalars(select(Job.state)).one()
    assert state == "done", rescuer.log_text()
    time.sleep(0.5)  # give a (wrong) second completion the chance to show up
    assert rescuer.stop() == 0, rescuer.log_text()

    with sessions() as s:
        job = s.scalars(select(Job)).one()
        assert (job.state, job.attempts) == ("done", 2)
        assert job.locked_by != first_owner
        capture = s.get(Capture, cap.capture_id)
        assert capture is not None
        assert (capture.status, capture.person_count) == ("processed", 1)
        (event,) = s.scalars(select(Event)).all()
        assert event.version == 1 and event.details["capture_ids"] == [cap.capture_id]
        assert s.scalars(select(EventCapture.capture_id)).all() == [cap.capture_id]
        assert [m.key for m in s.scalars(select(Outbox))] == [event.id]
