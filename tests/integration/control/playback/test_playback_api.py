"""``POST /api/v1/events/{id}/playback`` on a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from sqlalchemy import update

from guardian.contracts import playback
from guardian.control.auth.keys import KeyRing
from guardian.control.context import ControlContext
from guardian.control.playback import PlaybackUnavailable, issue_playback
from guardian.control.store.tables import Relay, RelayAssignment
from tests.integration.control.inventory.conftest import Inventory, open_inventory

RELAY_URL = "https://relay.alpha.example:8443"


@pytest.fixture
def inv(control_ctx: ControlContext) -> Iterator[Inventory]:
    yield from open_inventory(control_ctx)


def _public(inv: Inventory, url: str | None) -> None:
    with inv.ctx.db.system() as session:
        session.execute(update(Relay).values(public_url=url))


def _event(inv: Inventory, **overrides: object) -> str:
    event = inv.a.summary(**overrides)
    inv.ingest(event)
    return str(event["id"])


def _post(inv: Inventory, event_id: str, body: object, headers: dict[str, str]) -> object:
    return inv.client.post(f"/api/v1/events/{event_id}/playback", json=body, headers=headers)


def test_any_role_gets_relay_urls_with_a_token_bound_to_the_event(inv: Inventory) -> None:
    _public(inv, RELAY_URL + "/")
    event_id = _event(inv, source_name="back door", started_at="2026-03-01T09:30:05Z")
    got = inv.client.post(
        f"/api/v1/events/{event_id}/playback",
        json={"kind": "clip", "tz": "Europe/Paris"},
        headers=inv.a.viewer.headers,
    )
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["kind"] == "clip" and body["boxes_url"] is None
    url = urlsplit(body["url"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"{RELAY_URL}/v1/media/{event_id}/clip"
    token = parse_qs(url.query)["token"][0]
    assert parse_qs(urlsplit(body["download_url"]).query) == {"token": [token], "download": ["1"]}

    keyring = inv.ctx.services["keyring"]
    assert isinstance(keyring, KeyRing)
    claims = playback.verify(token, keyring.public_key, now=inv.ctx.clock())
    assert (claims.tenant_id, claims.event_id, claims.kind) == (inv.a.id, event_id, "clip")
    # Paris is UTC+1 in March; the name is sanitised (no space).
    assert claims.filename == "back_door-20260301-103005-clip.mp4"
    expires = dt.datetime.fromisoformat(body["expires_at"])
    assert abs(expires.timestamp() - (inv.ctx.clock() + 300)) < 5
    assert jwt.get_unverified_header(token)["typ"] == playback.TOKEN_TYPE

    snap = _post(inv, event_id, {"kind": "snapshot"}, inv.a.admin.headers)
    assert snap.status_code == 200  # type: ignore[attr-defined]
    assert "/boxes?token=" in snap.json()["boxes_url"]  # type: ignore[attr-defined]


def test_another_tenants_or_unknown_event_is_404(inv: Inventory) -> None:
    _public(inv, RELAY_URL)
    event_id = _event(inv)
    other = inv.client.post(
        f"/api/v1/events/{event_id}/playback", json={"kind": "clip"}, headers=inv.b.admin.headers
    )
    assert other.status_code == 404
    assert other.json()["error"]["code"] == "not_found"
    unknown = _post(
        inv, "00000000-0000-0000-0000-000000000000", {"kind": "clip"}, inv.a.admin.headers
    )
    assert unknown.status_code == 404  # type: ignore[attr-defined]


def test_bad_requests_are_refused_with_a_reason(inv: Inventory) -> None:
    _public(inv, RELAY_URL)
    event_id = _event(inv)
    headers = inv.a.admin.headers
    for body in ({"kind": "thumbnail"}, {}, {"kind": "clip", "tz": "Mars/Olympus"}):
        got = inv.client.post(f"/api/v1/events/{event_id}/playback", json=body, headers=headers)
        assert got.status_code in (400, 422), (body, got.text)
        assert got.json()["error"]["message"]
    no_auth = inv.client.post(f"/api/v1/events/{event_id}/playback", json={"kind": "clip"})
    assert no_auth.status_code == 401


def test_no_relay_or_no_public_url_is_a_clear_409(inv: Inventory) -> None:
    event_id = _event(inv)
    missing_url = inv.client.post(
        f"/api/v1/events/{event_id}/playback", json={"kind": "clip"}, headers=inv.a.admin.headers
    )
    assert missing_url.status_code == 409
    assert "--public-url" in missing_url.json()["error"]["message"]
    _public(inv, RELAY_URL)
    with inv.ctx.db.system() as session:
        session.query(RelayAssignment).filter_by(tenant_id=inv.a.id).delete()
    with pytest.raises(PlaybackUnavailable, match="no relay"):
        issue_playback(inv.ctx, inv.a.id, event_id, "clip")
