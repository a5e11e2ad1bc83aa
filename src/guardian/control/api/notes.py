"""Control plane API: operator notes on events (plan 000) and their history.

Any role adds notes (viewers too); the author or an admin edits or deletes one. Another
tenant's event or note answers 404 and nothing changes.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, FastAPI, Path, Response

from guardian.common.db import utcnow
from guardian.control.api.deps import ContextDep, PrincipalDep, TenantSessionDep
from guardian.control.context import ControlContext
from guardian.control.inventory import notes
from guardian.control.inventory.queries import note_out
from guardian.control.inventory.repository import get_event, live_notes
from guardian.control.inventory.schemas import NoteHistoryOut, NoteIn, NoteOut, NotePatch

router = APIRouter(prefix="/api/v1/events/{event_id}/notes", tags=["notes"])

EventId = Annotated[str, Path(max_length=36)]
NoteId = Annotated[str, Path(max_length=36)]
_ERRORS: dict[int | str, dict[str, str]] = {
    401: {"description": "Missing or invalid access token"},
    404: {"description": "No such event or note in your tenant"},
    422: {"description": "Invalid note"},
}
_EDIT_ERRORS: dict[int | str, dict[str, str]] = {
    **_ERRORS,
    403: {"description": "Neither the note's author nor an admin"},
}
_EXAMPLE = {
    "added_items": [{"item": "milk 1l", "quantity": 6}],
    "took_items": [{"item": "bread", "quantity": 1}],
    "comment": "restocked the fridge",
}


@router.get("", response_model=list[NoteOut], summary="Notes on an event", responses=_ERRORS)
def list_notes(
    event_id: EventId, principal: PrincipalDep, session: TenantSessionDep
) -> list[NoteOut]:
    get_event(session, principal.tenant_id, event_id)
    return [note_out(n) for n in live_notes(session, principal.tenant_id, [event_id])]


@router.post(
    "",
    response_model=NoteOut,
    status_code=201,
    summary="Add a note to an event",
    responses=_ERRORS,
    openapi_extra={"requestBody": {"content": {"application/json": {"example": _EXAMPLE}}}},
)
def add_note(event_id: EventId, body: NoteIn, principal: PrincipalDep, ctx: ContextDep) -> NoteOut:
    with ctx.db.tenant(principal.tenant_id) as session:
        return note_out(notes.create_note(session, principal, event_id, body, utcnow()))


@router.patch("/{note_id}", response_model=NoteOut, summary="Edit a note", responses=_EDIT_ERRORS)
def edit_note(
    event_id: EventId, note_id: NoteId, body: NotePatch, principal: PrincipalDep, ctx: ContextDep
) -> NoteOut:
    with ctx.db.tenant(principal.tenant_id) as session:
        note = notes.update_note(session, principal, event_id, note_id, body, utcnow())
        return note_out(note)


@router.delete(
    "/{note_id}",
    status_code=204,
    response_class=Response,
    summary="Delete a note (its history is kept)",
    responses=_EDIT_ERRORS,
)
def remove_note(
    event_id: EventId, note_id: NoteId, principal: PrincipalDep, ctx: ContextDep
) -> Response:
    with ctx.db.tenant(principal.tenant_id) as session:
        notes.delete_note(session, principal, event_id, note_id, utcnow())
    return Response(status_code=204)


@router.get(
    "/{note_id}/history",
    response_model=list[NoteHistoryOut],
    summary="Who changed a note when, and what it became",
    responses=_ERRORS,
)
def get_history(
    event_id: EventId, note_id: NoteId, principal: PrincipalDep, session: TenantSessionDep
) -> list[NoteHistoryOut]:
    rows = notes.note_history(session, principal.tenant_id, event_id, note_id)
    return [
        NoteHistoryOut(
            id=r.id, note_id=r.note_id, action=r.action, actor_id=r.actor_id, at=r.at, data=r.data
        )
        for r in rows
    ]


def install(app: FastAPI, ctx: ControlContext) -> None:
    """Nothing to attach: notes are plain tenant transactions."""
