"""Users of a tenant: create, find, change role, disable, delete (tenant-scoped queries)."""

from __future__ import annotations

import datetime as dt
import re
import threading
import uuid

from sqlalchemy import delete, event, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from guardian.common.api_errors import Conflict, NotFound, Unprocessable
from guardian.common.db import utcnow
from guardian.control.auth.passwords import check_password, hash_password
from guardian.control.auth.principal import ROLES
from guardian.control.store.tables import EventNote, RefreshToken, Tenant, User

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_EMAIL = 320


_changes_lock = threading.Lock()
_changes = [0]  # how many user changes this process has made (see user_changes)


def user_changes() -> int:
    """A counter this process bumps whenever it changes or removes a user.

    Caches of verified tokens (``auth.verifier``) remember it and drop their entries when it
    moves, so a role change, a disabled or a deleted user takes effect at once here (other
    processes see it within the cache's lifetime).
    """
    return _changes[0]


def _bump(*_: object) -> None:
    with _changes_lock:
        _changes[0] += 1


def _note_change(session: Session) -> None:
    # Before the write (so no new entry is trusted from here on) and after the commit (so
    # an entry made from the old row while the change was uncommitted is dropped too).
    _bump()
    event.listen(session, "after_commit", _bump, once=True)


class EmailTaken(Conflict):
    code = "email_taken"


class LastAdmin(Conflict):
    code = "last_admin"


class InvalidUser(Unprocessable):
    """An invalid email address or role."""


def normalise_email(email: str) -> str:
    """The stored form of an address (trimmed, lower-case); ``InvalidUser`` if malformed."""
    normal = email.strip().lower()
    if len(normal) > MAX_EMAIL or not _EMAIL.match(normal):
        raise InvalidUser("not a valid email address")
    return normal


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidUser(f"role must be one of {', '.join(ROLES)}")
    return role


def create_user(
    session: Session,
    *,
    tenant_id: str,
    email: str,
    role: str,
    password: str | None,
    subject: str | None = None,
    display_name: str | None = None,
    now: dt.datetime | None = None,
) -> User:
    """Add a user to ``tenant_id`` (password hashed with Argon2id; ``None``: no password login).

    Raises ``NotFound`` for an unknown tenant, ``InvalidUser``, ``WeakPassword`` and
    ``EmailTaken`` (addresses are unique across tenants).
    """
    normal = normalise_email(email)
    check_role(role)
    if password is not None:
        check_password(password)
    if session.get(Tenant, tenant_id) is None:
        raise NotFound("no such tenant")
    user = User(
        id=str(uuid.uuid4()),
        tenant_id=tenant_id,
        email=normal,
        password_hash=hash_password(password) if password is not None else None,
        role=role,
        subject=subject,
        display_name=display_name,
        created_at=now or utcnow(),
        disabled_at=None,
    )
    try:
        with session.begin_nested():
            session.add(user)
            session.flush()
    except IntegrityError as exc:
        raise EmailTaken("a user with this email (or external subject) already exists") from exc
    return user


def find_by_email(session: Session, email: str) -> User | None:
    """The user with ``email`` in any tenant (system session: login)."""
    return session.scalars(select(User).where(User.email == email.strip().lower())).first()


def find_by_subject(session: Session, subject: str) -> User | None:
    """The user an external issuer knows as ``subject`` (system session)."""
    return session.scalars(select(User).where(User.subject == subject)).first()


def get_user(session: Session, tenant_id: str, user_id: str) -> User:
    """A user of ``tenant_id``; ``NotFound`` for an unknown id or another tenant's user."""
    user = session.scalars(
        select(User).where(User.tenant_id == tenant_id, User.id == user_id)
    ).first()
    if user is None:
        raise NotFound("no such user")
    return user


def list_users(session: Session, tenant_id: str) -> list[User]:
    """The users of ``tenant_id`` by email."""
    return list(
        session.scalars(select(User).where(User.tenant_id == tenant_id).order_by(User.email))
    )


def _other_active_admins(session: Session, tenant_id: str, user_id: str) -> int:
    # Lock the tenant's admin rows so two admins demoting each other cannot both succeed
    # (PostgreSQL; SQLite's write transactions are serialised already).
    rows = session.scalars(
        select(User.id)
        .where(
            User.tenant_id == tenant_id,
            User.role == "admin",
            User.disabled_at.is_(None),
            User.id != user_id,
        )
        .with_for_update()
    ).all()
    return len(rows)


def _keep_an_admin(session: Session, user: User) -> None:
    if user.role == "admin" and user.disabled_at is None:
        if _other_active_admins(session, user.tenant_id, user.id) == 0:
            raise LastAdmin("a tenant needs at least one active admin")


def revoke_refresh_tokens(session: Session, tenant_id: str, user_id: str, now: dt.datetime) -> int:
    """Revoke every live refresh token of a user; returns how many."""
    result = session.execute(
        update(RefreshToken)
        .where(
            RefreshToken.tenant_id == tenant_id,
            RefreshToken.user_id == user_id,
            RefreshToken.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def update_user(
    session: Session,
    tenant_id: str,
    user_id: str,
    *,
    role: str | None = None,
    disabled: bool | None = None,
    display_name: str | None = None,
    password: str | None = None,
    now: dt.datetime | None = None,
) -> User:
    """Change a user's role, disabled state, display name or password.

    Demoting or disabling the tenant's last active admin raises ``LastAdmin``; disabling
    (or a new password) revokes the user's refresh tokens.
    """
    now = now or utcnow()
    user = get_user(session, tenant_id, user_id)
    _note_change(session)
    if (role is not None and role != user.role) or (disabled and user.disabled_at is None):
        if role is not None:
            check_role(role)
        _keep_an_admin(session, user)
    if role is not None:
        user.role = role
    if display_name is not None:
        user.display_name = display_name or None
    if password is not None:
        check_password(password)
        user.password_hash = hash_password(password)
        revoke_refresh_tokens(session, tenant_id, user_id, now)
    if disabled is True and user.disabled_at is None:
        user.disabled_at = now
        revoke_refresh_tokens(session, tenant_id, user_id, now)
    elif disabled is False:
        user.disabled_at = None
    session.flush()
    return user


def delete_user(
    session: Session, tenant_id: str, user_id: str, now: dt.datetime | None = None
) -> None:
    """Remove a user (``LastAdmin`` for the tenant's last active admin).

    A user who wrote notes stays as a disabled, anonymised row so the notes' history keeps
    its author; anyone else is deleted with their refresh tokens.
    """
    now = now or utcnow()
    user = get_user(session, tenant_id, user_id)
    _note_change(session)
    _keep_an_admin(session, user)
    wrote_notes = session.scalar(
        select(func.count())
        .select_from(EventNote)
        .where(EventNote.tenant_id == tenant_id, EventNote.author_id == user_id)
    )
    if wrote_notes:
        revoke_refresh_tokens(session, tenant_id, user_id, now)
        user.email = f"deleted-{user.id}@users.invalid"
        user.password_hash = None
        user.subject = None
        user.display_name = None
        user.disabled_at = user.disabled_at or now
        session.flush()
        return
    session.execute(
        delete(RefreshToken).where(
            RefreshToken.tenant_id == tenant_id, RefreshToken.user_id == user_id
        )
    )
    session.delete(user)
    session.flush()
