"""Sites and bootstrap tokens in the real store (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from guardian.control.context import ControlContext
from guardian.control.store.tables import BootstrapToken, Camera, Site
from guardian.control.tenancy.cameras import create_or_touch_camera
from guardian.control.tenancy.plans import QuotaExceeded
from guardian.control.tenancy.sites import (
    BootstrapTokenRejected,
    create_site,
    delete_site,
    get_site,
    issue_bootstrap_token,
    redeem_bootstrap_token,
)
from tests.control_helpers import make_tenant

NOW = dt.datetime(2025, 1, 31, 12, 0, tzinfo=dt.UTC)


def _site(ctx: ControlContext, tenant: str, name: str = "shop") -> tuple[str, str]:
    with ctx.db.tenant(tenant) as s:
        site, token = create_site(s, tenant_id=tenant, name=name, now=NOW)
        return site.id, token


def _redeem(ctx: ControlContext, token: str, now: dt.datetime = NOW) -> Site:
    with ctx.db.system() as s:
        return redeem_bootstrap_token(s, token, now)


def test_bootstrap_token_is_stored_hashed_and_redeems_once(control_ctx: ControlContext) -> None:
    tenant = make_tenant(control_ctx)
    site_id, token = _site(control_ctx, tenant)
    with control_ctx.db.system() as s:
        digests = list(s.scalars(select(BootstrapToken.token_sha256)))
    assert len(digests) == 1 and token not in digests[0]
    site = _redeem(control_ctx, token, NOW + dt.timedelta(hours=1))
    assert (site.id, site.tenant_id) == (site_id, tenant)
    assert site.enrolled_at == NOW + dt.timedelta(hours=1)
    with pytest.raises(BootstrapTokenRejected, match="used already"):
        _redeem(control_ctx, token, NOW + dt.timedelta(hours=2))


def test_bootstrap_token_expires_after_24_hours(control_ctx: ControlContext) -> None:
    tenant = make_tenant(control_ctx)
    _site_id, token = _site(control_ctx, tenant)
    with pytest.raises(BootstrapTokenRejected, match="expired"):
        _redeem(control_ctx, token, NOW + dt.timedelta(hours=24))
    with pytest.raises(BootstrapTokenRejected, match="unknown"):
        _redeem(control_ctx, "gbt_not-a-token")


def test_a_new_bootstrap_token_revokes_the_unused_one(control_ctx: ControlContext) -> None:
    tenant = make_tenant(control_ctx)
    site_id, old = _site(control_ctx, tenant)
    with control_ctx.db.tenant(tenant) as s:
        new, expires = issue_bootstrap_token(
            s, site=get_site(s, tenant, site_id), now=NOW + dt.timedelta(minutes=1)
        )
    assert expires == NOW + dt.timedelta(minutes=1, hours=24)
    with pytest.raises(BootstrapTokenRejected):
        _redeem(control_ctx, old, NOW + dt.timedelta(minutes=2))
    assert _redeem(control_ctx, new, NOW + dt.timedelta(minutes=2)).id == site_id


def test_site_quota_of_the_free_plan(control_ctx: ControlContext) -> None:
    tenant, other = make_tenant(control_ctx), make_tenant(control_ctx)
    _site(control_ctx, tenant, "one")
    _site(control_ctx, tenant, "two")
    with pytest.raises(QuotaExceeded, match="at most 2 sites"):
        _site(control_ctx, tenant, "three")
    _site(control_ctx, other, "elsewhere")  # quotas are per tenant
    with control_ctx.db.system() as s:
        names = set(s.scalars(select(Site.name).where(Site.tenant_id == tenant)))
    assert names == {"one", "two"}


def test_camera_quota_and_touch(control_ctx: ControlContext) -> None:
    tenant = make_tenant(control_ctx)
    site_id, _ = _site(control_ctx, tenant)
    with control_ctx.db.tenant(tenant) as s:
        first = create_or_touch_camera(s, tenant, site_id, "cam0", NOW)
        for i in range(1, 8):
            create_or_touch_camera(s, tenant, site_id, f"cam{i}", NOW)
    later = NOW + dt.timedelta(minutes=1)
    with control_ctx.db.tenant(tenant) as s:
        again = create_or_touch_camera(s, tenant, site_id, "cam0", later)
        assert again.id == first.id and again.last_seen_at == later
        with pytest.raises(QuotaExceeded, match="at most 8 cameras"):
            create_or_touch_camera(s, tenant, site_id, "cam8", later)
    with control_ctx.db.system() as s:
        assert len(list(s.scalars(select(Camera.id)))) == 8


def test_deleting_a_site_removes_cameras_and_tokens(control_ctx: ControlContext) -> None:
    tenant = make_tenant(control_ctx)
    site_id, token = _site(control_ctx, tenant)
    keep_id, _ = _site(control_ctx, tenant, "keep")
    with control_ctx.db.tenant(tenant) as s:
        create_or_touch_camera(s, tenant, site_id, "front", NOW)
        create_or_touch_camera(s, tenant, keep_id, "front", NOW)
    with control_ctx.db.tenant(tenant) as s:
        delete_site(s, get_site(s, tenant, site_id))
    with control_ctx.db.system() as s:
        assert list(s.scalars(select(Camera.site_id))) == [keep_id]
        assert set(s.scalars(select(BootstrapToken.site_id))) == {keep_id}
    with pytest.raises(BootstrapTokenRejected):
        _redeem(control_ctx, token)
