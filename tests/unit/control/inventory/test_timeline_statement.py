"""``timeline_statement`` (SQLAlchemy's own SQL for a timeline page, reused per filter shape)
and ``rows_page`` (its rows as a page)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import create_engine

from guardian.control.inventory.cursor import encode_cursor
from guardian.control.inventory.queries import (
    EventFilter,
    page_json,
    page_query,
    rows_page,
    timeline_statement,
)
from guardian.control.inventory.schemas import EventOut, EventRow

DIALECT = create_engine("postgresql+psycopg://nobody@localhost/none").dialect  # no connection
PLUS_TWO = dt.timezone(dt.timedelta(hours=2))
SINCE = dt.datetime(2026, 3, 1, 12, 0, tzinfo=PLUS_TWO)
UNTIL = dt.datetime(2026, 3, 8, 9, 30, tzinfo=dt.UTC)
AFTER = (dt.datetime(2026, 3, 5, 8, 0, tzinfo=PLUS_TWO), "e-42")

FILTERS = [
    (EventFilter(), None),
    (EventFilter(camera_id="c-1", type="interaction_detected", since=SINCE, until=UNTIL), None),
    (EventFilter(site_id="s-1", has_notes=True), AFTER),
    (EventFilter(camera_id="c-2", site_id="s-2", has_notes=False, since=SINCE), AFTER),
]


def _sqlalchemy(
    f: EventFilter, after: Any, limit: int, tenant: str = "t-1"
) -> tuple[str, dict[str, Any]]:
    compiled = page_query(tenant, f, limit=limit, after=after).compile(dialect=DIALECT)
    return compiled.string, dict(compiled.construct_params())


@pytest.mark.parametrize(("f", "after"), FILTERS)
def test_the_statement_is_sqlalchemys_with_the_same_parameters(f: EventFilter, after: Any) -> None:
    sql, params = timeline_statement(DIALECT, "t-1", f, limit=50, after=after)
    expected_sql, expected = _sqlalchemy(f, after, 50)
    assert sql == expected_sql
    assert params == expected  # aware datetimes compare by instant
    for name in ("since", "until", "after_started_at"):
        if name in params:
            assert params[name].tzinfo is dt.UTC  # bound as UtcDateTime binds them
    assert params["limit"] == 51 and params["tenant_id"] == "t-1"


def test_a_shape_is_compiled_once_and_filled_with_each_requests_values() -> None:
    first = timeline_statement(DIALECT, "t-1", EventFilter(camera_id="c-1"), limit=10)
    second = timeline_statement(DIALECT, "t-2", EventFilter(camera_id="c-9"), limit=20)
    assert first[0] is second[0]
    assert second[1] == {"tenant_id": "t-2", "camera_id": "c-9", "limit": 21}
    assert second == _sqlalchemy(EventFilter(camera_id="c-9"), None, 20, tenant="t-2")
    other = timeline_statement(DIALECT, "t-1", EventFilter(site_id="s-1"), limit=10)
    assert other[0] != first[0] and "events.site_id = %(site_id)s" in other[0]


def test_free_text_is_not_a_statement_shape() -> None:
    with pytest.raises(ValueError, match="free-text"):
        timeline_statement(DIALECT, "t-1", EventFilter(q="milk"), limit=10)


def test_rows_mirror_the_event_schema() -> None:
    assert tuple(EventRow.__annotations__) == tuple(EventOut.model_fields)


def _row(n: int, zone: dt.tzinfo, archived: bool = False) -> tuple[Any, ...]:
    at = dt.datetime(2026, 3, 1, 12, n, tzinfo=dt.UTC).astimezone(zone)
    archive = ("bafkreiexample", 42, at) if archived else (None, None, None)
    return (f"e-{n}", "s-1", "c-1", "front", "camera", "front", "interaction_detected", "person",
            None, 1.5, 1, "high", "ended", at, at, False, 1, at, at, *archive)  # fmt: skip


def test_rows_become_a_page_in_utc_with_a_cursor_only_when_more_follow() -> None:
    rows = [_row(3, PLUS_TWO, archived=True), _row(2, dt.UTC), _row(1, PLUS_TWO)]
    page = rows_page(rows, 2)
    assert [item["id"] for item in page["items"]] == ["e-3", "e-2"]
    first = page["items"][0]
    assert first["started_at"].tzinfo is dt.UTC and first["updated_at"].tzinfo is dt.UTC
    assert first["started_at"] == rows[0][13] and first["dwell_s"] == 1.5
    assert page["next_cursor"] == encode_cursor(page["items"][1]["started_at"], "e-2")
    assert rows_page(rows, 3)["next_cursor"] is None
    # The archive's columns become one nested object (or null).
    assert first["archive"] == {"cid": "bafkreiexample", "size": 42, "archived_at": rows[0][13]}
    assert first["archive"]["archived_at"].tzinfo is dt.UTC
    assert page["items"][1]["archive"] is None
    assert page_json(page).count(b'Z"') == 9  # every time in the JSON is UTC


def _varied_row(n: int) -> tuple[Any, ...]:
    """Values that JSON writers disagree on when they can: whole seconds (no fraction),
    microseconds, non-ASCII and escaped text, floats of many shapes, nulls."""
    micros = (0, 1, 120_000, 999_999)[n % 4]
    at = dt.datetime(2026, 3, 1, 12, n % 60, n % 60, micros, tzinfo=dt.UTC)
    dwell = (None, 0.0, 1.5, 0.1, 1e-7, 12345.678901, 3.0)[n % 7]
    camera = (None, "Entrée ☕", 'quote " and \\ back', "tab\tnew\nline", "\U0001d518nicode")[n % 5]
    archive = ("bafkrei" + "a" * 52, 2**40 + n, at) if n % 3 == 0 else (None, None, None)
    return (f"e-{n}", None if n % 2 else "s-1", "c-1", camera, "device", "pi-1",
            "interaction_detected", None if n % 6 == 0 else "person", "shelf", dwell, n,
            "low", "open", at, at, bool(n % 2), n + 1, at, at, *archive)  # fmt: skip


def test_the_page_json_is_the_api_models_json_byte_for_byte() -> None:
    from guardian.control.inventory.schemas import EventPage

    rows = [_varied_row(n) for n in range(41)]
    page = rows_page(rows, 40)
    assert page_json(page) == EventPage.model_validate(page).model_dump_json().encode()
