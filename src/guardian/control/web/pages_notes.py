"""UI form posts for operator notes: add, edit and delete (the inventory's note service)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from guardian.common.api_errors import Unprocessable
from guardian.common.db import utcnow
from guardian.control.api.deps import ContextDep
from guardian.control.inventory import notes
from guardian.control.inventory.schemas import NoteIn, NotePatch
from guardian.control.web.deps import Csrf, WebPrincipal, WebRoute
from guardian.control.web.forms import field, first_error, parse_items
from guardian.control.web.pages_auth import safe_next

router = APIRouter(route_class=WebRoute, include_in_schema=False)
EventId = Annotated[str, Path(max_length=36)]
NoteId = Annotated[str, Path(max_length=36)]


def _note_fields(form: Any) -> dict[str, Any]:
    return {
        "added_items": parse_items(field(form, "added_items")),
        "took_items": parse_items(field(form, "took_items")),
        "comment": field(form, "comment").strip(),
    }


def _back(form: Any, event_id: str, done: str, note_id: str | None) -> RedirectResponse:
    target = safe_next(field(form, "back") or f"/events/{event_id}")
    if target == "/":
        target = f"/events/{event_id}"
    path, _, query = target.partition("?")
    params = "&".join(p for p in query.split("&") if p and not p.startswith("done="))
    params = f"{params}&done={done}" if params else f"done={done}"
    anchor = f"#note-{note_id}" if note_id else f"#event-{event_id}"
    return RedirectResponse(f"{path}?{params}{anchor}", status_code=303)


@router.post("/events/{event_id}/notes", dependencies=[Csrf])
async def add_note(
    request: Request, event_id: EventId, ctx: ContextDep, principal: WebPrincipal
) -> Response:
    form = await request.form()
    try:
        body = NoteIn.model_validate(_note_fields(form))
    except ValidationError as exc:
        raise Unprocessable(first_error(exc)) from None
    with ctx.db.tenant(principal.tenant_id) as session:
        note = notes.create_note(session, principal, event_id, body, utcnow())
        note_id = note.id
    return _back(form, event_id, "note-added", note_id)


@router.post("/events/{event_id}/notes/{note_id}", dependencies=[Csrf])
async def edit_note(
    request: Request, event_id: EventId, note_id: NoteId, ctx: ContextDep, principal: WebPrincipal
) -> Response:
    form = await request.form()
    try:
        patch = NotePatch.model_validate(_note_fields(form))
    except ValidationError as exc:
        raise Unprocessable(first_error(exc)) from None
    with ctx.db.tenant(principal.tenant_id) as session:
        notes.update_note(session, principal, event_id, note_id, patch, utcnow())
    return _back(form, event_id, "note-saved", note_id)


@router.post("/events/{event_id}/notes/{note_id}/delete", dependencies=[Csrf])
async def delete_note(
    request: Request, event_id: EventId, note_id: NoteId, ctx: ContextDep, principal: WebPrincipal
) -> Response:
    form = await request.form()
    with ctx.db.tenant(principal.tenant_id) as session:
        notes.delete_note(session, principal, event_id, note_id, utcnow())
    return _back(form, event_id, "saved", None)
