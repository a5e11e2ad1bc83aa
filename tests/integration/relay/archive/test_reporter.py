"""``RelayService`` sends archive reports that failed (control plane down) again on its own,
without waiting for the next upload."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from sqlalchemy import select

from guardian.archive.cid import cid_of_bytes
from guardian.control.archive.tables import EventArchive
from guardian.control.context import ControlContext
from guardian.control.link_server import start_control_link
from guardian.relay.archive import store
from guardian.relay.archive.config import RelayArchiveSettings
from guardian.relay.config import RelaySettings
from guardian.relay.context import build_context
from guardian.relay.service import RelayService
from tests.control_helpers import assign_relay, make_relay, make_site, make_tenant
from tests.ports import reserve_port


def _wait(check: object, timeout: float = 20.0) -> None:
    assert callable(check)
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_a_report_pending_while_the_control_plane_was_down_is_sent_when_it_is_back(
    sqlite_control_ctx: ControlContext, tmp_path: Path
) -> None:
    control = sqlite_control_ctx
    tenant = make_tenant(control)
    relay_id, token = make_relay(control)
    assign_relay(control, tenant, relay_id)
    site = make_site(control, tenant)
    control_port = reserve_port()
    relay = build_context(
        RelaySettings(
            data_dir=tmp_path / "relay",
            link_port=reserve_port(),
            link_direct_port=reserve_port(),
            control_url=f"http://127.0.0.1:{control_port}",
            control_token=token,
            archive=RelayArchiveSettings(report_seconds=0.2),
        )
    )
    event_id, cid = str(uuid.uuid4()), cid_of_bytes(b"sealed")
    with relay.sessions.begin() as session:
        now = relay.clock()
        store.add_object(session, tenant, cid, 6, now)
        store.record_event(
            session, event_id=event_id, tenant_id=tenant, site_id=site, cid=cid, size=6, now=now
        )
    service = RelayService(relay)
    service.start()
    server = None
    try:
        time.sleep(0.5)  # a few attempts against a control plane that is not there
        with relay.sessions() as session:
            assert [row.event_id for row in store.unreported(session)] == [event_id]

        server, _ = start_control_link(control, "127.0.0.1", control_port)

        def reported() -> bool:
            with relay.sessions() as session:
                return not store.unreported(session)

        _wait(reported)
        with control.db.tenant(tenant) as session:
            row = session.scalar(select(EventArchive).where(EventArchive.event_id == event_id))
        assert row is not None and (row.cid, row.size_bytes) == (cid, 6)
    finally:
        service.stop()
        if server is not None:
            server.stop(grace=None).wait()
