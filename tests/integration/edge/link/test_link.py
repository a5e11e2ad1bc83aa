"""The edge's LinkMaintainer against a real gRPC relay over mutual TLS on loopback."""

from __future__ import annotations

import datetime as dt
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from guardian.contracts.pb.guardian.v1 import link_pb2
from guardian.edge.config import EdgeSettings, LinkSettings
from guardian.edge.context import EdgeContext, build_context
from guardian.edge.link.client import LinkMaintainer
from guardian.edge.link.enroll import LinkInfo, link_dir
from guardian.edge.link.identity import EdgeIdentityFiles
from guardian.edge.store.tables import CameraStatus, Event, EventMedia, Outbox
from guardian.relay.pki import CertificateAuthority, RevocationSet
from tests.integration.edge.link.relay_double import (
    RELAY_ID,
    SITE,
    TENANT,
    FakeRelay,
    RelayServer,
    RelayState,
)

T0 = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
WAIT_S = 20.0


def wait_for(condition: Callable[[], bool], timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def event_payload(event_id: str) -> dict[str, object]:
    stamp = T0.isoformat()
    return {
        "id": event_id,
        "type": "interaction_detected",
        "source_kind": "camera",
        "source_id": "door",
        "started_at": stamp,
        "ended_at": stamp,
        "person_count": 1,
        "best_score": 0.7,
        "details": {"boxes": [[1, 2, 3, 4]], "zone": "door"},
        "created_at": stamp,
        "updated_at": stamp,
        "version": 1,
    }


def fill_outbox(ctx: EdgeContext, count: int) -> set[str]:
    ids = {f"ev-{i:05d}" for i in range(count)}
    with ctx.sessions.begin() as session:
        for event_id in sorted(ids):
            session.add(
                Outbox(
                    topic="event.upsert",
                    key=event_id,
                    payload=event_payload(event_id),
                    created_at=T0,
                )
            )
    return ids


def outbox_ids(ctx: EdgeContext) -> set[int]:
    with ctx.sessions() as session:
        return set(session.scalars(select(Outbox.id)))


@pytest.fixture
def ca(tmp_path: Path) -> CertificateAuthority:
    return CertificateAuthority.load_or_create(tmp_path / "relay-ca", name="relay acme")


@pytest.fixture
def state() -> RelayState:
    return RelayState()


@pytest.fixture
def revoked() -> RevocationSet:
    return RevocationSet()


def make_edge(tmp_path: Path, port: int, **link: object) -> EdgeContext:
    options: dict[str, object] = {"relay": f"localhost:{port}", "telemetry_seconds": 0.5}
    settings = EdgeSettings(
        data_dir=tmp_path / "edge", link=LinkSettings.model_validate(options | link)
    )
    return build_context(settings)


def enrol(
    ca: CertificateAuthority, ctx: EdgeContext, *, now: dt.datetime | None = None, days: int = 365
) -> str:
    directory = link_dir(ctx.settings.data_dir)
    files = EdgeIdentityFiles(directory)
    issued = ca.issue_client_certificate(
        files.create_csr(), site_id=SITE, tenant_id=TENANT, now=now, days=days
    )
    files.store(issued.cert_pem, ca.cert_pem)
    LinkInfo(ctx.settings.link.relay or "", SITE, TENANT, RELAY_ID).save(directory)
    return issued.serial


class Running:
    """A LinkMaintainer thread, stopped on exit."""

    def __init__(self, ctx: EdgeContext, ack_timeout_s: float = 30.0) -> None:
        self.stop = threading.Event()
        self.maintainer = LinkMaintainer(ctx, self.stop, ack_timeout_s=ack_timeout_s)

    def __enter__(self) -> LinkMaintainer:
        self.maintainer.start()
        return self.maintainer

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.maintainer.join(10)
        assert not self.maintainer.is_alive()


@pytest.fixture
def relay(
    ca: CertificateAuthority, state: RelayState, revoked: RevocationSet
) -> Iterator[RelayServer]:
    with RelayServer(FakeRelay(ca, state, revoked)) as server:
        yield server


def test_enrolled_edge_drains_the_outbox_deleting_only_acked_rows(
    tmp_path: Path, ca: CertificateAuthority, state: RelayState, revoked: RevocationSet
) -> None:
    deleted_early: list[int] = []
    holder: list[EdgeContext] = []

    def before_ack(ids: tuple[int, ...]) -> None:
        present = outbox_ids(holder[0])
        deleted_early.extend(i for i in ids if i not in present)

    with RelayServer(FakeRelay(ca, state, revoked, before_ack=before_ack)) as server:
        ctx = make_edge(tmp_path, server.link_port)
        holder.append(ctx)
        enrol(ca, ctx)
        produced = fill_outbox(ctx, 500)
        with ctx.sessions.begin() as session:
            session.add(CameraStatus(name="door", state="online", input_fps=12.5, updated_at=T0))
        with Running(ctx) as maintainer:
            wait_for(lambda: not outbox_ids(ctx))
            wait_for(lambda: len(state.telemetry) >= 1)

    assert set(state.events) == produced
    assert deleted_early == []
    assert all(len(b) <= 200 for b in state.batches)
    sent = [i for batch in state.batches for i in batch]
    assert sent == sorted(sent) and len(sent) == 500  # outbox order, each row once
    assert state.hellos[0].site_id == SITE
    assert maintainer.connects == 1
    assert ctx.metrics.outbox_depth._value.get() == 0
    sample = state.telemetry[-1]
    assert [c.name for c in sample.cameras] == ["door"]
    assert sample.cameras[0].input_fps == pytest.approx(12.5)
    assert sample.box.memory_total_bytes > 0
    details = state.events["ev-00001"].details_json
    assert '"boxes":[[1,2,3,4]]' in details


def test_relay_that_never_acks_deletes_nothing_and_gets_the_rows_again(
    tmp_path: Path,
    ca: CertificateAuthority,
    state: RelayState,
    revoked: RevocationSet,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="guardian.edge.link.client")
    with RelayServer(FakeRelay(ca, state, revoked, ack=False)) as server:
        ctx = make_edge(tmp_path, server.link_port, reconnect_max_seconds=1.0)
        enrol(ca, ctx)
        fill_outbox(ctx, 30)
        before = outbox_ids(ctx)
        with Running(ctx, ack_timeout_s=0.5) as maintainer:
            wait_for(lambda: len(state.hellos) >= 2)
            wait_for(lambda: len(state.batches) >= 2)

    assert outbox_ids(ctx) == before
    assert state.batches[0] == state.batches[1] == tuple(sorted(before))
    assert maintainer.connects >= 2
    assert any("no ack for batch" in r.getMessage() for r in caplog.records)


def test_relay_restart_mid_stream_loses_nothing(
    tmp_path: Path, ca: CertificateAuthority, state: RelayState, revoked: RevocationSet
) -> None:
    first_acks = threading.Event()

    def slow(ids: tuple[int, ...]) -> None:
        time.sleep(0.05)
        if len(state.batches) >= 3:
            first_acks.set()

    server = RelayServer(FakeRelay(ca, state, revoked, before_ack=slow)).__enter__()
    port = server.link_port
    ctx = make_edge(tmp_path, port, batch_size=20, reconnect_max_seconds=1.0)
    enrol(ca, ctx)
    produced = fill_outbox(ctx, 300)
    try:
        with Running(ctx) as maintainer:
            assert first_acks.wait(WAIT_S)
            server.stop()
            remaining = outbox_ids(ctx)
            assert remaining, "the relay went down before the edge finished"
            with RelayServer(FakeRelay(ca, state, revoked), link_port=port):
                wait_for(lambda: not outbox_ids(ctx))
    finally:
        server.stop()

    assert set(state.events) == produced
    assert maintainer.connects >= 2
    assert state.hellos[-1].last_acked_batch_id != ""


@pytest.mark.parametrize("problem", ["revoked", "expired"])
def test_revoked_or_expired_certificate_gets_no_connection_and_a_clear_log(
    tmp_path: Path,
    ca: CertificateAuthority,
    state: RelayState,
    revoked: RevocationSet,
    relay: RelayServer,
    caplog: pytest.LogCaptureFixture,
    problem: str,
) -> None:
    ctx = make_edge(tmp_path, relay.link_port)
    if problem == "revoked":
        revoked.revoke(enrol(ca, ctx))
    else:
        enrol(ca, ctx, now=dt.datetime.now(dt.UTC) - dt.timedelta(days=10), days=1)
    before = outbox_ids(ctx)
    fill_outbox(ctx, 5)
    caplog.set_level(logging.ERROR, logger="guardian.edge.link.client")

    with Running(ctx) as maintainer:
        wait_for(lambda: maintainer.last_error is not None)

    assert maintainer.connects == 0
    assert state.hellos == [] and state.batches == []
    assert len(outbox_ids(ctx)) == len(before) + 5
    expected = "refused this edge's certificate" if problem == "revoked" else "expired"
    assert any(expected in r.getMessage() for r in caplog.records)


def test_an_edge_told_a_link_port_at_enrolment_links_there(
    tmp_path: Path, ca: CertificateAuthority, state: RelayState, relay: RelayServer
) -> None:
    ctx = make_edge(tmp_path, relay.link_port, relay=None)
    enrol(ca, ctx)
    # Enrolled at the enrolment port, which serves no EdgeLink: only the told port works.
    directory = link_dir(ctx.settings.data_dir)
    enrolled_at = f"localhost:{relay.enroll_port}"
    LinkInfo(enrolled_at, SITE, TENANT, RELAY_ID, relay.link_port).save(directory)
    fill_outbox(ctx, 3)

    with Running(ctx) as maintainer:
        wait_for(lambda: len(state.batches) >= 1 and maintainer.connects >= 1)

    assert maintainer.target == f"localhost:{relay.link_port}"


def test_an_unreachable_link_port_falls_back_to_the_enrolment_address(
    tmp_path: Path, ca: CertificateAuthority, state: RelayState, relay: RelayServer
) -> None:
    ctx = make_edge(tmp_path, relay.link_port, relay=None)
    enrol(ca, ctx)
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    enrolled_at = f"localhost:{relay.link_port}"
    LinkInfo(enrolled_at, SITE, TENANT, RELAY_ID, closed).save(link_dir(ctx.settings.data_dir))
    fill_outbox(ctx, 3)

    with Running(ctx) as maintainer:
        wait_for(lambda: len(state.batches) >= 1 and maintainer.connects >= 1)

    assert maintainer.target == enrolled_at
    assert len(state.hellos) == 1


def test_stream_clip_command_uploads_the_clip_and_unknown_commands_are_refused(
    tmp_path: Path, ca: CertificateAuthority, state: RelayState, relay: RelayServer
) -> None:
    ctx = make_edge(tmp_path, relay.link_port)
    enrol(ca, ctx)
    clip = bytes(range(256)) * 5000  # 1.28 MB: a 32 KiB chunk, a 1 MiB one and the rest
    (ctx.settings.media_dir / "clips").mkdir()
    (ctx.settings.media_dir / "clips" / "e1.mp4").write_bytes(clip)
    with ctx.sessions.begin() as session:
        session.add(
            Event(
                id="e1",
                type="interaction_detected",
                source_kind="camera",
                source_id="door",
                started_at=T0,
                ended_at=T0,
                person_count=1,
                best_score=0.9,
                details={},
                created_at=T0,
                updated_at=T0,
            )
        )
        session.flush()
        session.add(
            EventMedia(
                event_id="e1",
                kind="clip",
                camera="door",
                state="present",
                path="clips/e1.mp4",
                content_type="video/mp4",
                created_at=T0,
                updated_at=T0,
            )
        )
    state.commands.put(
        link_pb2.Command(
            command_id="c1",
            stream_clip=link_pb2.StreamClip(event_id="e1", kind=link_pb2.MEDIA_KIND_CLIP),
        )
    )
    state.commands.put(link_pb2.Command(command_id="c2"))
    state.commands.put(
        link_pb2.Command(
            command_id="c3",
            stream_clip=link_pb2.StreamClip(event_id="nope", kind=link_pb2.MEDIA_KIND_CLIP),
        )
    )

    with Running(ctx):
        wait_for(lambda: len(state.results) >= 3)

    results = {r.command_id: r for r in state.results}
    assert state.uploads["e1"] == clip
    assert results["c1"].ok
    assert (results["c2"].ok, results["c2"].error) == (False, "unsupported")
    assert not results["c3"].ok and "no clip" in results["c3"].error


def test_outbox_depth_gauge_and_warning_when_above_the_threshold(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ctx = make_edge(tmp_path, 1, outbox_warn_rows=3, reconnect_max_seconds=1.0)
    fill_outbox(ctx, 5)  # not enrolled: the link cannot connect, the depth still shows
    caplog.set_level(logging.WARNING, logger="guardian.edge.link.client")

    with Running(ctx) as maintainer:
        wait_for(lambda: maintainer.last_error is not None)

    assert ctx.metrics.outbox_depth._value.get() == 5
    assert any(r.getMessage() == "the outbox is growing" for r in caplog.records)
    with ctx.sessions() as session:
        assert session.scalar(select(func.count(Outbox.id))) == 5


def test_a_window_of_batches_drains_in_order_and_rows_refilled_after_a_drain_still_go(
    tmp_path: Path, ca: CertificateAuthority, state: RelayState, relay: RelayServer
) -> None:
    # SQLite hands out outbox ids again once the table is empty: a second wave with the
    # same ids must not be mistaken for rows already sent on this stream.
    ctx = make_edge(tmp_path, relay.link_port, batch_size=25)
    enrol(ca, ctx)
    first = fill_outbox(ctx, 300)
    with Running(ctx) as maintainer:
        wait_for(lambda: not outbox_ids(ctx))
        first_ids = [i for batch in state.batches for i in batch]
        assert first_ids == sorted(first_ids) and len(first_ids) == 300
        with ctx.sessions.begin() as session:
            for n in range(40):
                session.add(
                    Outbox(
                        topic="event.upsert",
                        key=f"late-{n}",
                        payload=event_payload(f"late-{n:03d}"),
                        created_at=T0,
                    )
                )
        assert min(outbox_ids(ctx)) <= max(first_ids)  # ids came round again
        wait_for(lambda: not outbox_ids(ctx))

    assert set(state.events) == first | {f"late-{n:03d}" for n in range(40)}
    assert maintainer.connects == 1
    assert len(state.batches) == 12 + 2
