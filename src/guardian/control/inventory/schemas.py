"""Wire schemas of the event inventory: relay ingest, events, summaries and notes.

Ingest refuses unknown fields (``extra="forbid"``): bounding boxes, raw scores or any other
detail the control plane must never store are rejected, not silently dropped.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from typing_extensions import TypedDict

MAX_BATCH = 500
EVENT_TYPE_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
IngestStatus = Literal["created", "updated", "unchanged", "stale", "rejected"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EventSummaryIn(_Strict):
    """An event summary as a relay sends it (what, where, when, how many)."""

    id: uuid.UUID = Field(description="The edge's event UUID (idempotency key).")
    tenant_id: uuid.UUID
    site_id: uuid.UUID
    source_kind: Literal["camera", "device"]
    source_name: str = Field(min_length=1, max_length=64, description="Edge camera/device name.")
    type: str = Field(pattern=EVENT_TYPE_PATTERN, examples=["interaction_detected"])
    label: str | None = Field(None, max_length=32, examples=["person"])
    zone: str | None = Field(None, max_length=64)
    dwell_s: float | None = Field(None, ge=0, allow_inf_nan=False)
    person_count: int = Field(0, ge=0, le=10_000)
    confidence: Literal["low", "medium", "high"]
    state: Literal["active", "ended"]
    started_at: AwareDatetime
    ended_at: AwareDatetime
    version: int = Field(ge=1, le=2**31 - 1, description="Higher versions replace lower ones.")

    @model_validator(mode="after")
    def _ends_after_start(self) -> EventSummaryIn:
        if self.ended_at < self.started_at:
            raise ValueError("ended_at is before started_at")
        return self


class IngestBatch(_Strict):
    """``POST /api/v1/ingest/events`` body."""

    events: list[EventSummaryIn] = Field(max_length=MAX_BATCH)


class IngestResult(BaseModel):
    id: str
    status: IngestStatus
    reason: str | None = None


class IngestResponse(BaseModel):
    results: list[IngestResult]


class NoteItem(_Strict):
    item: str = Field(min_length=1, max_length=128, examples=["milk 1l"])
    quantity: int = Field(gt=0, le=1_000_000, examples=[2])


class NoteIn(_Strict):
    """A new operator note: what was added to / taken from the shelf, and a comment."""

    added_items: list[NoteItem] = Field(default_factory=list, max_length=100)
    took_items: list[NoteItem] = Field(default_factory=list, max_length=100)
    comment: str = Field("", max_length=4000)

    @model_validator(mode="after")
    def _not_empty(self) -> NoteIn:
        if not (self.added_items or self.took_items or self.comment.strip()):
            raise ValueError("a note needs items or a comment")
        return self


class NotePatch(_Strict):
    """Fields of a note to replace (omitted ones stay as they are)."""

    added_items: list[NoteItem] | None = Field(None, max_length=100)
    took_items: list[NoteItem] | None = Field(None, max_length=100)
    comment: str | None = Field(None, max_length=4000)

    @model_validator(mode="after")
    def _something(self) -> NotePatch:
        if self.added_items is None and self.took_items is None and self.comment is None:
            raise ValueError("nothing to change")
        return self


class NoteOut(BaseModel):
    id: str
    event_id: str
    added_items: list[NoteItem]
    took_items: list[NoteItem]
    comment: str
    author_id: str
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int


class NoteHistoryOut(BaseModel):
    """One change of a note: who did what when, and what the note became."""

    id: int
    note_id: str
    action: Literal["create", "update", "delete"]
    actor_id: str
    at: dt.datetime
    data: dict[str, Any]


class ArchiveOut(BaseModel):
    """Where the event's sealed clip is archived (only its owner's secret opens it)."""

    cid: str = Field(examples=["bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq"])
    size: int = Field(description="Size of the sealed blob in bytes.")
    archived_at: dt.datetime


class EventOut(BaseModel):
    id: str
    site_id: str | None
    camera_id: str | None
    camera: str | None = Field(description="Camera display name, else its edge name.")
    source_kind: str
    source_name: str
    type: str
    label: str | None
    zone: str | None
    dwell_s: float | None
    person_count: int
    confidence: str
    state: str
    started_at: dt.datetime
    ended_at: dt.datetime
    has_notes: bool
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    archive: ArchiveOut | None = Field(
        default=None, description="The event's encrypted archive at the relay; null: none."
    )


class EventDetailOut(EventOut):
    notes: list[NoteOut]


class EventPage(BaseModel):
    items: list[EventOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next (older) page.")


class ArchiveRow(TypedDict):
    """``ArchiveOut`` as a plain dict."""

    cid: str
    size: int
    archived_at: dt.datetime


class EventRow(TypedDict):
    """``EventOut`` as a plain dict, same fields in the same order (the timeline's rows)."""

    id: str
    site_id: str | None
    camera_id: str | None
    camera: str | None
    source_kind: str
    source_name: str
    type: str
    label: str | None
    zone: str | None
    dwell_s: float | None
    person_count: int
    confidence: str
    state: str
    started_at: dt.datetime
    ended_at: dt.datetime
    has_notes: bool
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    archive: ArchiveRow | None


class EventPageRows(TypedDict):
    """``EventPage`` as a plain dict."""

    items: list[EventRow]
    next_cursor: str | None


class DayCount(BaseModel):
    day: str = Field(examples=["2026-03-01"])
    count: int
    interactions: int


class SourceCount(BaseModel):
    source_kind: str
    source_name: str
    site_id: str | None
    camera_id: str | None
    count: int
    interactions: int


class EventSummaryOut(BaseModel):
    by_type: dict[str, int]
    by_day: list[DayCount]
    by_source: list[SourceCount]
    total: int
    interactions: int
