"""Free-text search over events: the indexed text of an event and the LIKE pattern for a query.

``events.search_text`` holds the lower-cased words an operator may look for: the event
type, label and zone, the source's edge name, the camera's display name and the text of
live notes (items and comments). On PostgreSQL ``search_text ILIKE '%q%'`` is served by
the pg_trgm GIN index (for queries of three characters or more); on SQLite the same
pattern runs as a plain ``LIKE`` scan over the tenant's rows (the documented fallback).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

LIKE_ESCAPE = "\\"
MAX_QUERY_CHARS = 200


def _words(values: Iterable[str | None]) -> list[str]:
    return [" ".join(v.split()).lower() for v in values if v and v.strip()]


def note_words(added_items: Iterable[Any], took_items: Iterable[Any], comment: str) -> list[str]:
    """The searchable words of one note (item names and the comment)."""
    items = [*added_items, *took_items]
    names = [str(i["item"]) if isinstance(i, Mapping) else str(i) for i in items]
    return _words([*names, comment])


def build_search_text(
    *,
    type: str,
    label: str | None,
    zone: str | None,
    source_name: str,
    camera_names: Iterable[str | None] = (),
    notes: Iterable[Iterable[str]] = (),
) -> str:
    """The lower-cased, de-duplicated text an event is found by."""
    parts = _words([type, type.replace("_", " "), label, zone, source_name, *camera_names])
    for words in notes:
        parts.extend(_words(words))
    return " | ".join(dict.fromkeys(parts))


def like_pattern(query: str) -> str:
    """``%query%`` with LIKE wildcards in ``query`` escaped (use with ``LIKE_ESCAPE``)."""
    cleaned = " ".join(query.split()).lower()
    escaped = (
        cleaned.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
        .replace("%", LIKE_ESCAPE + "%")
        .replace("_", LIKE_ESCAPE + "_")
    )
    return f"%{escaped}%"
