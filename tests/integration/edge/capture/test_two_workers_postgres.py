"""Two worker processes on one PostgreSQL: 200 captures, every job done once, no event twice."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
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

DEVICES = ("pi-a", "pi-b", "pi-c", "pi-d")
BURSTS, PER_BURST = 10, 5  # per device: 10 bursts of 5 captures = 200 captures in all
SIZE = (320, 240)


def test_two_workers_process_200_captures_exactly_once(
    pg_edge_db: EdgeDb, worker_procs: WorkerProcs, ssd_settings: DetectorSettings, tmp_path: Path
) -> None:
    procs = [worker_procs.start(pg_edge_db, tmp_path / f"w{i}.log", count=2) for i in range(2)]
    for proc in procs:
        proc.wait_ready(threads=2)

    # Bursts 2 s apart inside, a minute apart between: even bursts show a person (except
    # their middle capture), odd ones only coffee. Any processing order gives the same events.
    sessions = session_factory(pg_edge_db.engine)
    expected: set[frozenset[str]] = set()
    person_captures: set[str] = set()
    with sessions.begin() as s:
        for device in DEVICES:
            add_device(s, device)
        for b in range(BURSTS):
            for device in DEVICES:
                burst: set[str] = set()
                for i in range(PER_BURST):
                    image = "astronaut" if b % 2 == 0 and i != 2 else "coffee"
                    seq = b * PER_BURST + i
                    cap = add_capture(
                        s,
                        pg_edge_db.settings,
                        device,
                        image,
                        seq=seq,
                        seconds=60 * b + 2 * i,
                        size=SIZE,
                    )
                    if image == "astronaut":
                        burst.add(cap.capture_id)
                if burst:
                    expected.add(frozenset(burst))
                    person_captures |= burst
    total = len(DEVICES) * BURSTS * PER_BURST

    deadline = time.monotonic() + 180
    done = 0
    while done < total and time.monotonic() < deadline:
        time.sleep(0.2)
        with sessions() as s:
            done = s.scalar(select(func.count()).where(Job.state == "done")) or 0
    logs = "\n".join(p.log_text()[-3000:] for p in procs)
    assert done == total, logs
    for proc in procs:
        assert proc.stop() == 0, proc.log_text()

    with sessions() as s:
        jobs = s.scalars(select(Job)).all()
        assert len(jobs) == total
        # Nobody crashed, so no job was claimed (let alone finished) twice.
        assert {(j.state, j.attempts) for j in jobs} == {("done", 1)}
        owners = Counter(j.locked_by.rsplit(":", 1)[0] for j in jobs if j.locked_by)
        assert len(owners) == 2, owners  # both processes did work
        assert s.scalar(select(func.count()).where(Capture.status != "processed")) == 0

        links = s.scalars(select(EventCapture)).all()
        assert len(links) == len({lk.capture_id for lk in links}) == len(person_captures)
        by_event: defaultdict[str, set[str]] = defaultdict(set)
        for lk in links:
            by_event[lk.event_id].add(lk.capture_id)
        events = s.scalars(select(Event)).all()
        assert len(events) == len(expected)  # no event duplicated
        assert {frozenset(v) for v in by_event.values()} == expected
        for event in events:
            assert set(event.details["capture_ids"]) == by_event[event.id]
            assert event.version == len(by_event[event.id])
            versions = sorted(
                m.payload["version"]
                for m in s.scalars(select(Outbox).where(Outbox.key == event.id))
            )
            assert versions == list(range(1, event.version + 1))
