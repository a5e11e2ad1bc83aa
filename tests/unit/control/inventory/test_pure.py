"""Pure helpers of the inventory: cursors, search text and patterns, schemas, retention."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from pydantic import ValidationError

from guardian.control.inventory.cursor import decode_cursor, encode_cursor
from guardian.control.inventory.retention import retention_cutoff
from guardian.control.inventory.schemas import (
    MAX_BATCH,
    EventSummaryIn,
    IngestBatch,
    NoteIn,
    NotePatch,
)
from guardian.control.inventory.search import build_search_text, like_pattern, note_words

T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


def summary(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "tenant_id": str(uuid.uuid4()),
        "site_id": str(uuid.uuid4()),
        "source_kind": "camera",
        "source_name": "front",
        "type": "interaction_detected",
        "label": "person",
        "zone": "shelf",
        "dwell_s": 3.5,
        "person_count": 1,
        "confidence": "high",
        "state": "ended",
        "started_at": "2026-03-01T09:00:00Z",
        "ended_at": "2026-03-01T09:00:05Z",
        "version": 1,
    }
    data.update(overrides)
    return data


def test_cursor_round_trips_and_normalises_to_utc() -> None:
    when = dt.datetime(2026, 3, 1, 10, 0, 0, 123456, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    got = decode_cursor(encode_cursor(when, "abc"))
    assert got == (when, "abc")
    assert got[0].utcoffset() == dt.timedelta(0)


@pytest.mark.parametrize(
    "cursor",
    ["", "!!!", "bm90IGpzb24", encode_cursor(T0, "x")[:-3], "W10", "x" * 300],
)
def test_malformed_cursors_are_refused(cursor: str) -> None:
    with pytest.raises(ValueError):
        decode_cursor(cursor)


def test_cursor_with_naive_time_is_refused() -> None:
    import base64

    raw = base64.urlsafe_b64encode(b'["2026-03-01T09:00:00","id"]').decode().rstrip("=")
    with pytest.raises(ValueError, match="malformed"):
        decode_cursor(raw)


def test_search_text_holds_names_and_notes_lower_cased_once() -> None:
    text = build_search_text(
        type="interaction_detected",
        label="Person",
        zone="Shelf A",
        source_name="front",
        camera_names=("front", "Front Door"),
        notes=[note_words([{"item": "Milk", "quantity": 2}], [], "Restocked  fridge")],
    )
    for word in (
        "interaction detected",
        "person",
        "shelf a",
        "front door",
        "milk",
        "restocked fridge",
    ):
        assert word in text
    assert text.count("front |") == 1  # de-duplicated


def test_like_pattern_escapes_wildcards() -> None:
    assert like_pattern("50%_off") == "%50\\%\\_off%"
    assert like_pattern("  Front   Door ") == "%front door%"
    assert like_pattern("a\\b") == "%a\\\\b%"


def test_summary_refuses_boxes_scores_and_other_extras() -> None:
    for extra in ({"boxes": [[0, 0, 1, 1]]}, {"score": 0.93}, {"snapshot": "x"}):
        with pytest.raises(ValidationError, match="Extra inputs"):
            EventSummaryIn.model_validate(summary(**extra))


@pytest.mark.parametrize(
    "bad",
    [
        {"started_at": "2026-03-01T09:00:00"},  # naive time
        {"ended_at": "2026-03-01T08:59:59Z"},  # ends before it starts
        {"confidence": "0.93"},
        {"version": 0},
        {"type": "Interaction Detected"},
        {"source_kind": "phone"},
        {"id": "not-a-uuid"},
    ],
)
def test_invalid_summaries_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        EventSummaryIn.model_validate(summary(**bad))


def test_batch_is_bounded() -> None:
    IngestBatch.model_validate({"events": [summary()] * MAX_BATCH})
    with pytest.raises(ValidationError):
        IngestBatch.model_validate({"events": [summary()] * (MAX_BATCH + 1)})


def test_notes_need_content_and_positive_quantities() -> None:
    assert NoteIn.model_validate({"comment": "ok"}).added_items == []
    for bad in (
        {},
        {"comment": "   "},
        {"added_items": [{"item": "milk", "quantity": 0}]},
        {"took_items": [{"item": "", "quantity": 1}]},
        {"comment": "x", "author_id": "me"},
    ):
        with pytest.raises(ValidationError):
            NoteIn.model_validate(bad)
    with pytest.raises(ValidationError, match="nothing to change"):
        NotePatch.model_validate({})


def test_retention_cutoff() -> None:
    assert retention_cutoff(T0, None) is None
    assert retention_cutoff(T0, 7) == T0 - dt.timedelta(days=7)
    with pytest.raises(ValueError):
        retention_cutoff(T0, -1)
