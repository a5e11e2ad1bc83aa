"""Operator notes on events (plan 000): create, edit, soft-delete, with a full history.

Every change keeps a history row (who, when, what the note became), refreshes the event's
``has_notes`` and search text, and records a ``note`` feed row, all in one transaction.
Authors edit their own notes; admins edit any note of their tenant.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from guardian.common.api_errors import Forbidden, NotFound, Unprocessable
from guardian.control.auth.principal import Principal
from guardian.control.inventory.feed import record_change
from guardian.control.inventory.repository import get_event, reindex_events
from guardian.control.inventory.schemas import NoteIn, NotePatch
from guardian.control.store.tables import EventNote, EventNoteHistory

NoteAction = Literal["create", "update", "delete"]


def note_data(note: EventNote) -> dict[str, Any]:
    """What a history row keeps of the note."""
    return {
        "added_items": list(note.added_items),
        "took_items": list(note.took_items),
        "comment": note.comment,
        "version": note.version,
        "deleted": note.deleted_at is not None,
    }


def _changed(
    session: Session, principal: Principal, note: EventNote, action: NoteAction, now: dt.datetime
) -> None:
    session.add(
        EventNoteHistory(
            tenant_id=note.tenant_id,
            note_id=note.id,
            event_id=note.event_id,
            action=action,
            data=note_data(note),
            actor_id=principal.user_id,
            at=now,
        )
    )
    event = get_event(session, note.tenant_id, note.event_id)
    session.flush()  # the note's new state must be visible to the reindex query
    reindex_events(session, note.tenant_id, [event])
    event.updated_at = now
    session.flush()
    record_change(session, note.tenant_id, note.event_id, "note")


def get_note(
    session: Session, tenant_id: str, event_id: str, note_id: str, *, include_deleted: bool = False
) -> EventNote:
    """The tenant's note on the event, or ``NotFound``."""
    query = select(EventNote).where(
        EventNote.id == note_id, EventNote.event_id == event_id, EventNote.tenant_id == tenant_id
    )
    if not include_deleted:
        query = query.where(EventNote.deleted_at.is_(None))
    note = session.scalar(query)
    if note is None:
        raise NotFound("no such note")
    return note


def _may_edit(principal: Principal, note: EventNote) -> None:
    if not (principal.is_admin or note.author_id == principal.user_id):
        raise Forbidden("only the note's author or an admin may change it")


def create_note(
    session: Session, principal: Principal, event_id: str, data: NoteIn, now: dt.datetime
) -> EventNote:
    """Add a note by ``principal`` to the event (``NotFound`` if not the caller's tenant's)."""
    tenant_id = principal.tenant_id
    get_event(session, tenant_id, event_id, lock=True)
    note = EventNote(
        id=str(uuid.uuid4()),
        tenant_id=tenant_id,
        event_id=event_id,
        added_items=[i.model_dump() for i in data.added_items],
        took_items=[i.model_dump() for i in data.took_items],
        comment=data.comment,
        author_id=principal.user_id,
        created_at=now,
        updated_at=now,
        deleted_at=None,
        version=1,
    )
    session.add(note)
    session.flush()
    _changed(session, principal, note, "create", now)
    return note


def update_note(
    session: Session,
    principal: Principal,
    event_id: str,
    note_id: str,
    patch: NotePatch,
    now: dt.datetime,
) -> EventNote:
    """Replace the given fields of a note (author or admin)."""
    get_event(session, principal.tenant_id, event_id, lock=True)
    note = get_note(session, principal.tenant_id, event_id, note_id)
    _may_edit(principal, note)
    if patch.added_items is not None:
        note.added_items = [i.model_dump() for i in patch.added_items]
    if patch.took_items is not None:
        note.took_items = [i.model_dump() for i in patch.took_items]
    if patch.comment is not None:
        note.comment = patch.comment
    if not (note.added_items or note.took_items or note.comment.strip()):
        raise Unprocessable("a note needs items or a comment")
    note.version += 1
    note.updated_at = now
    _changed(session, principal, note, "update", now)
    return note


def delete_note(
    session: Session, principal: Principal, event_id: str, note_id: str, now: dt.datetime
) -> None:
    """Soft-delete a note (author or admin); its history stays."""
    get_event(session, principal.tenant_id, event_id, lock=True)
    note = get_note(session, principal.tenant_id, event_id, note_id)
    _may_edit(principal, note)
    note.deleted_at = now
    note.updated_at = now
    note.version += 1
    _changed(session, principal, note, "delete", now)


def note_history(
    session: Session, tenant_id: str, event_id: str, note_id: str
) -> list[EventNoteHistory]:
    """Every change of the note, oldest first (also for a deleted note)."""
    get_note(session, tenant_id, event_id, note_id, include_deleted=True)
    query = (
        select(EventNoteHistory)
        .where(EventNoteHistory.tenant_id == tenant_id, EventNoteHistory.note_id == note_id)
        .order_by(EventNoteHistory.id)
    )
    return list(session.scalars(query))
