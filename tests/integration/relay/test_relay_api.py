"""The relay's HTTP API: cached event detail behind a relay admin token."""

from __future__ import annotations

import datetime as dt
import stat
import uuid

from fastapi.testclient import TestClient

from guardian.relay.app import create_app
from guardian.relay.context import RelayContext
from guardian.relay.pki import CertificateAuthority
from guardian.relay.store.cache import store_batch
from tests.relay_fixtures import RelayDb

SITE, TENANT = str(uuid.uuid4()), str(uuid.uuid4())


def test_events_need_the_admin_token_and_show_full_detail(sqlite_relay_db: RelayDb) -> None:
    settings = sqlite_relay_db.settings
    ca = CertificateAuthority.load_or_create(settings.data_dir / "ca", name="relay test")
    ctx = RelayContext(settings, sqlite_relay_db.engine, ca, None)
    now = dt.datetime.now(dt.UTC)
    event_id = str(uuid.uuid4())
    event = {
        "id": event_id,
        "type": "person_detected",
        "source_kind": "camera",
        "source_id": "door",
        "started_at": now.isoformat(),
        "ended_at": now.isoformat(),
        "person_count": 1,
        "best_score": 0.4,
        "details": {"label": "person", "state": "active", "boxes": [[1, 2, 3, 4]]},
        "version": 1,
    }
    with ctx.sessions.begin() as session:
        store_batch(session, TENANT, SITE, [event], now)
    token = ctx.admin_tokens.create()
    assert stat.S_IMODE(ctx.admin_tokens.path.stat().st_mode) == 0o600
    assert token not in ctx.admin_tokens.path.read_text()
    client = TestClient(create_app(ctx))
    auth = {"Authorization": f"Bearer {token}"}

    assert client.get("/v1/events", params={"tenant_id": TENANT}).status_code == 401
    wrong = {"Authorization": "Bearer gra_wrong"}
    assert client.get(f"/v1/events/{event_id}", headers=wrong).status_code == 401
    page = client.get("/v1/events", params={"tenant_id": TENANT}, headers=auth).json()
    assert [e["id"] for e in page["items"]] == [event_id]
    detail = client.get(f"/v1/events/{event_id}", headers=auth).json()
    assert detail["event"]["details"]["boxes"] == [[1, 2, 3, 4]]
    assert client.get(f"/v1/events/{uuid.uuid4()}", headers=auth).status_code == 404
    assert client.get("/healthz").json() == {"status": "ok"}
    assert "guardian_relay_forward_queue_depth 1.0" in client.get("/metrics").text
