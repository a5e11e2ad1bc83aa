"""The device registry: ids, sealed signing keys, revocation and last-seen times."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import secrets

from cryptography.exceptions import InvalidTag
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from guardian.common.db import utcnow
from guardian.common.seal import Sealer
from guardian.edge.store.tables import Device

logger = logging.getLogger(__name__)

# The id names a media folder, so it must be a safe single path component: the first
# character is alphanumeric, which also rules out ".", ".." and hidden names like ".tmp-x".
DEVICE_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
FINGERPRINT_HEX = 16


class DeviceNotFound(KeyError):
    """No device with that id is registered."""

    def __str__(self) -> str:
        # KeyError's own str() is the repr of its argument; show the plain message.
        return str(self.args[0]) if self.args else "unknown device"


def is_valid_device_id(device_id: str) -> bool:
    """Whether ``device_id`` is 1-64 characters of ``[A-Za-z0-9._-]``, starting alphanumeric."""
    return DEVICE_ID_RE.fullmatch(device_id) is not None


def check_device_id(device_id: str) -> str:
    """Return ``device_id`` or raise ``ValueError`` saying what is wrong with it."""
    if not is_valid_device_id(device_id):
        raise ValueError(
            f"invalid device id {device_id!r}: use 1-64 characters of letters, digits, "
            "'.', '_' or '-', starting with a letter or digit"
        )
    return device_id


def key_fingerprint(key: str) -> str:
    """A short SHA-256 fingerprint of a device key, safe to show (it cannot sign)."""
    return hashlib.sha256(key.encode()).hexdigest()[:FINGERPRINT_HEX]


def _aad(device_id: str) -> bytes:
    # Binding the ciphertext to its device id stops a DB writer swapping keys between rows.
    return device_id.encode()


def add_device(session: Session, sealer: Sealer, device_id: str) -> str:
    """Register a device and return its new key (shown once; stored only sealed).

    Raises ``ValueError`` for an invalid id or one already registered (revoked ids are not
    reused, so captures always name one device). Runs in the caller's transaction.
    """
    check_device_id(device_id)
    if session.get(Device, device_id) is not None:
        raise ValueError(f"device {device_id!r} already exists")
    key = secrets.token_urlsafe(32)
    session.add(
        Device(
            id=device_id,
            key_sealed=sealer.seal(key.encode(), aad=_aad(device_id)),
            key_fingerprint=key_fingerprint(key),
            created_at=utcnow(),
            revoked_at=None,
            last_seen_at=None,
        )
    )
    try:
        session.flush()
    except IntegrityError as exc:  # registered concurrently by another process
        raise ValueError(f"device {device_id!r} already exists") from exc
    logger.info("device added", extra={"device_id": device_id})
    return key


def list_devices(session: Session) -> list[Device]:
    """All registered devices (revoked ones included), ordered by id."""
    return list(session.scalars(select(Device).order_by(Device.id)))


def revoke_device(session: Session, device_id: str) -> Device:
    """Revoke a device so its requests are refused; revoking twice keeps the first time.

    Raises ``DeviceNotFound`` (a ``KeyError``) for an unknown id.
    """
    device = session.get(Device, device_id)
    if device is None:
        raise DeviceNotFound(f"unknown device {device_id!r}")
    if device.revoked_at is None:
        device.revoked_at = utcnow()
        session.flush()
        logger.info("device revoked", extra={"device_id": device_id})
    return device


def device_key(session: Session, sealer: Sealer, device_id: str) -> str | None:
    """The signing key of an active device; ``None`` if unknown, revoked or unreadable."""
    device = session.get(Device, device_id)
    if device is None or device.revoked_at is not None:
        return None
    return open_device_key(sealer, device_id, device.key_sealed)


def open_device_key(sealer: Sealer, device_id: str, key_sealed: bytes) -> str | None:
    """Unseal a device's stored key; ``None`` (and an error log) if it cannot be opened."""
    try:
        return sealer.open(key_sealed, aad=_aad(device_id)).decode()
    except InvalidTag:
        # Wrong master key or a tampered row: refuse the device, tell the operator why.
        logger.error(
            "device key cannot be unsealed (master key replaced or row tampered)",
            extra={"device_id": device_id},
        )
        return None


def touch_last_seen(session: Session, device_id: str, when: dt.datetime | None = None) -> None:
    """Record that the device was just heard from (in the caller's transaction)."""
    session.execute(
        update(Device).where(Device.id == device_id).values(last_seen_at=when or utcnow())
    )
