"""The device registry on both engines: sealed keys, revocation, clear errors."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import select

from guardian.common.db import session_factory
from guardian.common.seal import Sealer
from guardian.edge.store.devices import (
    DeviceNotFound,
    add_device,
    device_key,
    key_fingerprint,
    list_devices,
    revoke_device,
    touch_last_seen,
)
from guardian.edge.store.tables import Device
from tests.edge_fixtures import EdgeDb


def test_added_key_is_stored_sealed_and_opens_with_the_master_key(edge_db: EdgeDb) -> None:
    sealer = Sealer(os.urandom(32))
    sessions = session_factory(edge_db.engine)
    with sessions.begin() as session:
        key = add_device(session, sealer, "door-pi")
    assert len(key) >= 40
    with sessions() as session:
        row = session.scalars(select(Device)).one()
        assert key.encode() not in row.key_sealed  # a copy of the DB alone cannot sign
        assert row.key_fingerprint == key_fingerprint(key)
        assert len(row.key_fingerprint) == 16
        assert device_key(session, sealer, "door-pi") == key
        # Another master key (e.g. a stolen DB on another machine) opens nothing.
        assert device_key(session, Sealer(os.urandom(32)), "door-pi") is None
        assert device_key(session, sealer, "nobody") is None


def test_keys_are_bound_to_their_device_row(edge_db: EdgeDb) -> None:
    sealer = Sealer(os.urandom(32))
    sessions = session_factory(edge_db.engine)
    with sessions.begin() as session:
        add_device(session, sealer, "a")
        add_device(session, sealer, "b")
    with sessions.begin() as session:  # swap sealed keys between rows
        a, b = session.get(Device, "a"), session.get(Device, "b")
        assert a is not None and b is not None
        a.key_sealed, b.key_sealed = b.key_sealed, a.key_sealed
    with sessions() as session:
        assert device_key(session, sealer, "a") is None


def test_duplicate_and_invalid_ids_are_refused_clearly(edge_db: EdgeDb) -> None:
    sealer = Sealer(os.urandom(32))
    sessions = session_factory(edge_db.engine)
    with sessions.begin() as session:
        add_device(session, sealer, "door-pi")
    with pytest.raises(ValueError, match="'door-pi' already exists"), sessions.begin() as session:
        add_device(session, sealer, "door-pi")
    for bad in ["", "x" * 65, "..", ".hidden", "a/b", "spa ce", "ünï"]:
        with pytest.raises(ValueError, match="invalid device id"), sessions.begin() as session:
            add_device(session, sealer, bad)
    with sessions.begin() as session:
        add_device(session, sealer, "A.b_c-9" + "x" * 57)  # 64 characters is fine
        assert [d.id for d in list_devices(session)] == ["A.b_c-9" + "x" * 57, "door-pi"]


def test_revoked_devices_have_no_key_and_revoking_twice_keeps_the_time(edge_db: EdgeDb) -> None:
    sealer = Sealer(os.urandom(32))
    sessions = session_factory(edge_db.engine)
    with sessions.begin() as session:
        add_device(session, sealer, "door-pi")
    with sessions.begin() as session:
        first = revoke_device(session, "door-pi").revoked_at
    with sessions.begin() as session:
        assert revoke_device(session, "door-pi").revoked_at == first
        assert device_key(session, sealer, "door-pi") is None
    with pytest.raises(DeviceNotFound, match="unknown device 'ghost'"), sessions() as session:
        revoke_device(session, "ghost")
    assert str(DeviceNotFound("unknown device 'ghost'")) == "unknown device 'ghost'"


def test_touch_last_seen(edge_db: EdgeDb) -> None:
    sealer = Sealer(os.urandom(32))
    sessions = session_factory(edge_db.engine)
    with sessions.begin() as session:
        add_device(session, sealer, "door-pi")
    with sessions.begin() as session:
        touch_last_seen(session, "door-pi")
    with sessions() as session:
        row = session.get(Device, "door-pi")
        assert row is not None and row.last_seen_at is not None
