"""Archive jobs end to end at the edge: queue, seal, upload to a real relay, lease and retry.

A real relay link server (mutual TLS on loopback) with the local blob backend; the edge's
``ArchiveMaintainer`` is driven one pass at a time.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select, update

from guardian.archive.blob import open_stream
from guardian.common.seal import Sealer
from guardian.edge.archive.config import EdgeArchiveSettings
from guardian.edge.archive.jobs import KIND_ARCHIVE_CLIP
from guardian.edge.archive.maintainer import ArchiveMaintainer
from guardian.edge.archive.secret import store_secret
from guardian.edge.archive.staging import Outgoing
from guardian.edge.archive.tables import Archive
from guardian.edge.config import EdgeSettings, LinkSettings, QueueSettings
from guardian.edge.context import EdgeContext, build_context
from guardian.edge.store.queue import claim
from guardian.edge.store.tables import EventMedia, Job
from guardian.relay.archive.admin import delete_archive
from guardian.relay.archive.config import RelayArchiveSettings
from guardian.relay.archive.store import audit_trail, usage
from guardian.relay.context import RelayContext
from guardian.relay.enroll import control_redeemer
from guardian.relay.link_server import LinkServer
from guardian.relay.pki import CertificateAuthority
from tests.archive_fixtures import add_clip_event, enroll_edge, stop_link
from tests.ports import reserve_port
from tests.relay_fixtures import RelayDb

SECRET = b"the user's archive secret"
SITE, TENANT = str(uuid.uuid4()), str(uuid.uuid4())
CLIP_BYTES = 150_000


@dataclass
class Relay:
    ctx: RelayContext
    server: LinkServer | None

    def start(self) -> None:
        self.server = LinkServer(self.ctx, control_redeemer(None), workers=4)
        self.server.start()

    def stop(self) -> None:
        if self.server is not None:
            stop_link(self.server)
            self.server = None


@pytest.fixture
def relay(sqlite_relay_db: RelayDb) -> Iterator[Relay]:
    settings = sqlite_relay_db.settings.model_copy(
        update={
            "link_port": reserve_port(1),  # and its direct port
            # Two clips fit, a third does not (no control plane: the default quota applies).
            "archive": RelayArchiveSettings(default_quota_bytes=2 * CLIP_BYTES + 10_000),
        }
    )
    ca = CertificateAuthority.load_or_create(settings.data_dir / "ca", name="relay test")
    relay = Relay(RelayContext(settings, sqlite_relay_db.engine, ca, None), None)
    relay.start()
    yield relay
    relay.stop()


@pytest.fixture
def edge(tmp_path: Path, relay: Relay) -> Iterator[EdgeContext]:
    address = f"127.0.0.1:{relay.ctx.settings.link_port}"
    settings = EdgeSettings(
        data_dir=tmp_path / "edge",
        archive=EdgeArchiveSettings(enabled=True, cameras=["door"], scan_seconds=0.01),
        link=LinkSettings(relay=address),
        queue=QueueSettings(lease_seconds=30, backoff_base_seconds=5, backoff_max_seconds=60),
    )
    ctx = build_context(settings)
    enroll_edge(relay.ctx.ca, settings.data_dir, address, site_id=SITE, tenant_id=TENANT)
    store_secret(settings.data_dir, ctx.sealer, SECRET)
    yield ctx
    ctx.engine.dispose()


def _maintainer(edge: EdgeContext) -> ArchiveMaintainer:
    return ArchiveMaintainer(edge, threading.Event())


def _job(edge: EdgeContext, event_id: str) -> Job:
    with edge.sessions() as session:
        job = session.scalar(
            select(Job).where(Job.kind == KIND_ARCHIVE_CLIP, Job.ref_id == event_id)
        )
    assert job is not None
    return job


def _make_due(edge: EdgeContext, event_id: str) -> None:
    with edge.sessions.begin() as session:
        session.execute(
            update(Job)
            .where(Job.ref_id == event_id)
            .values(run_after=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
        )


def _relay_blob(relay: Relay, cid: str) -> bytes:
    assert relay.server is not None
    return b"".join(relay.server.archive.backend.read(cid))


def _open(blob: bytes, secret: bytes = SECRET) -> bytes:
    sink = io.BytesIO()
    open_stream(secret, io.BytesIO(blob), sink)
    return sink.getvalue()


def test_a_selected_clip_is_sealed_uploaded_and_recorded(edge: EdgeContext, relay: Relay) -> None:
    clip = os.urandom(CLIP_BYTES)
    event_id = add_clip_event(edge.sessions, edge.settings.media_dir, clip)
    other_camera = add_clip_event(edge.sessions, edge.settings.media_dir, b"x", camera="yard")
    maintainer = _maintainer(edge)

    assert maintainer.run_once() == "done"

    with edge.sessions() as session:
        archive = session.get(Archive, event_id)
        assert archive is not None
        assert session.get(Archive, other_camera) is None
        jobs = list(session.scalars(select(Job).where(Job.kind == KIND_ARCHIVE_CLIP)))
    assert [(j.ref_id, j.state, j.attempts) for j in jobs] == [(event_id, "done", 1)]
    blob = _relay_blob(relay, archive.cid)
    assert archive.size_bytes == len(blob)
    assert clip not in blob  # sealed, not plain
    assert _open(blob) == clip
    assert not list(Outgoing(edge.settings.data_dir).directory.iterdir())
    with relay.ctx.sessions() as session:
        assert usage(session, TENANT) == len(blob)
    assert maintainer.run_once() is None  # nothing queued twice


def test_over_quota_keeps_the_job_until_space_is_freed(edge: EdgeContext, relay: Relay) -> None:
    first, second, third = (
        add_clip_event(edge.sessions, edge.settings.media_dir, os.urandom(CLIP_BYTES))
        for _ in range(3)
    )
    maintainer = _maintainer(edge)
    assert [maintainer.run_once() for _ in range(3)] == ["done", "done", "deferred"]

    job = _job(edge, third)
    assert (job.state, job.attempts) == ("queued", 0)  # no attempt used up
    assert job.last_error is not None and "quota exceeded" in job.last_error
    assert job.run_after > dt.datetime.now(dt.UTC) + dt.timedelta(minutes=30)
    staged = Outgoing(edge.settings.data_dir).existing(third)
    assert staged is not None  # the sealed blob waits too
    _make_due(edge, third)
    assert maintainer.run_once() == "deferred"  # still full

    with edge.sessions() as session:
        freed = session.get(Archive, first)
        assert freed is not None
    assert relay.server is not None
    deleted = delete_archive(
        relay.ctx.sessions,
        relay.server.archive.backend,
        None,
        cid=freed.cid,
        actor="ops@example.com",
        reason="make room",
    )
    assert deleted.event_ids == [first]
    with relay.ctx.sessions() as session:
        [entry] = audit_trail(session)
        assert (entry.actor, entry.action, entry.cid) == ("ops@example.com", "delete", freed.cid)
    _make_due(edge, third)

    assert maintainer.run_once() == "done"
    with edge.sessions() as session:
        archived = session.get(Archive, third)
    assert archived is not None and archived.cid == staged.cid  # the same sealed blob
    assert _open(_relay_blob(relay, archived.cid)) != b""
    assert second


def test_an_unreachable_relay_is_retried_with_backoff_then_the_same_blob_lands(
    edge: EdgeContext, relay: Relay
) -> None:
    clip = os.urandom(CLIP_BYTES)
    event_id = add_clip_event(edge.sessions, edge.settings.media_dir, clip)
    relay.stop()
    maintainer = _maintainer(edge)

    assert maintainer.run_once() == "retry"
    job = _job(edge, event_id)
    assert (job.state, job.attempts) == ("queued", 1)
    assert job.last_error is not None and "UNAVAILABLE" in job.last_error
    assert job.run_after > dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    staged = Outgoing(edge.settings.data_dir).existing(event_id)
    assert staged is not None

    # A relay that died mid-upload left a staged part: the restarted relay drops it.
    incoming = relay.ctx.settings.data_dir / "archive" / "incoming"
    (incoming / "dead.part").write_bytes(b"half a blob")
    relay.start()
    assert not (incoming / "dead.part").exists()
    _make_due(edge, event_id)

    assert maintainer.run_once() == "done"
    assert _job(edge, event_id).attempts == 2
    with edge.sessions() as session:
        archive = session.get(Archive, event_id)
    assert archive is not None and archive.cid == staged.cid
    assert _open(_relay_blob(relay, archive.cid)) == clip


def test_a_stale_lease_is_rescued(edge: EdgeContext, relay: Relay) -> None:
    event_id = add_clip_event(edge.sessions, edge.settings.media_dir, b"clip" * 100)
    maintainer = _maintainer(edge)
    maintainer.scan()
    dead = claim(edge.sessions, "dead-worker", kinds=(KIND_ARCHIVE_CLIP,), lease_seconds=30)
    assert dead is not None and dead.ref_id == event_id
    assert maintainer.run_once() is None  # the lease is fresh: not ours to take

    later = time.time() + 31
    edge.clock = lambda: later
    assert maintainer.run_once() == "done"
    job = _job(edge, event_id)
    assert (job.state, job.attempts, job.locked_by) == ("done", 2, maintainer.worker_id)


def test_a_pruned_clip_makes_the_job_dead_and_visible(edge: EdgeContext, relay: Relay) -> None:
    event_id = add_clip_event(edge.sessions, edge.settings.media_dir, b"clip")
    maintainer = _maintainer(edge)
    maintainer.scan()
    with edge.sessions.begin() as session:
        session.execute(update(EventMedia).values(state="pruned"))

    assert maintainer.run_once() == "dead"
    job = _job(edge, event_id)
    assert job.state == "dead" and job.last_error is not None and "pruned" in job.last_error


def test_without_a_secret_no_job_is_claimed(edge: EdgeContext, relay: Relay) -> None:
    event_id = add_clip_event(edge.sessions, edge.settings.media_dir, b"clip")
    (edge.settings.data_dir / "archive" / "secret.sealed").unlink()
    maintainer = _maintainer(edge)

    assert maintainer.run_once() is None
    job = _job(edge, event_id)
    assert (job.state, job.attempts) == ("queued", 0)
    store_secret(edge.settings.data_dir, Sealer(os.urandom(32)), SECRET)  # another master key
    assert maintainer.run_once() == "retry"
    assert "cannot be opened" in (_job(edge, event_id).last_error or "")


def test_an_edge_not_enrolled_claims_no_job(edge: EdgeContext, relay: Relay) -> None:
    event_id = add_clip_event(edge.sessions, edge.settings.media_dir, b"clip")
    (edge.settings.data_dir / "link" / "link.json").unlink()

    assert _maintainer(edge).run_once() is None
    assert (_job(edge, event_id).state, _job(edge, event_id).attempts) == ("queued", 0)
