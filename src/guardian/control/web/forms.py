"""Form input of the UI: plain fields, note item lines, labels, and validation messages (pure)."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from guardian.common.api_errors import Unprocessable

_ITEM_LINE = re.compile("^\\s*(?:(\\d{1,7})\\s*(?:x|\u00d7)?\\s+)?(.+?)\\s*$", re.IGNORECASE)


def field(form: Mapping[str, Any], name: str) -> str:
    """A text field of a submitted form ('' when missing or a file)."""
    value = form.get(name)
    return value if isinstance(value, str) else ""


def parse_items(text: str) -> list[dict[str, Any]]:
    """Note items, one per line: ``6 milk 1l`` / ``6 x milk 1l`` / ``bread`` (quantity 1)."""
    items: list[dict[str, Any]] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        match = _ITEM_LINE.match(line)
        assert match is not None  # the pattern accepts any non-blank line
        quantity, item = match.group(1), match.group(2)
        items.append({"item": item, "quantity": int(quantity) if quantity else 1})
    return items


def format_items(items: list[Any]) -> str:
    """The text ``parse_items`` reads back into ``items``."""
    lines = []
    for entry in items:
        item = entry["item"] if isinstance(entry, Mapping) else entry.item
        quantity = entry["quantity"] if isinstance(entry, Mapping) else entry.quantity
        lines.append(f"{quantity} {item}")
    return "\n".join(lines)


def parse_labels(text: str) -> list[str]:
    """Comma-separated labels (blank entries dropped; the service checks the rest)."""
    return [part.strip() for part in text.split(",") if part.strip()]


def first_error(exc: ValidationError) -> str:
    """One readable sentence for a schema validation error."""
    errors = exc.errors()
    if not errors:
        return "the form is not valid"
    err = errors[0]
    where = ".".join(str(p) for p in err.get("loc", ()) if not isinstance(p, int))
    message = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
    return f"{where.replace('_', ' ')}: {message}" if where else message


def local_day_start(day: str, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """Midnight of ``YYYY-MM-DD`` in ``zone`` as an aware UTC datetime (``Unprocessable``)."""
    try:
        date = dt.date.fromisoformat(day)
    except ValueError:
        raise Unprocessable(f"not a date: {day[:32]!r} (use YYYY-MM-DD)") from None
    local = dt.datetime.combine(date, dt.time(), tzinfo=zone)
    return local.astimezone(dt.UTC)
