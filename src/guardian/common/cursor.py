"""Opaque keyset cursors over (``started_at``, ``id``), newest first — shared by the
edge's, the relay's and the control plane's event lists."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json

MAX_CURSOR_CHARS = 256
MAX_ID_CHARS = 64


class InvalidCursor(ValueError):
    """A string that is not a cursor this service made."""


def encode_cursor(started_at: dt.datetime, event_id: str) -> str:
    """The opaque position just after the event (``started_at``, ``event_id``)."""
    raw = json.dumps([started_at.astimezone(dt.UTC).isoformat(), event_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> tuple[dt.datetime, str]:
    """The (``started_at``, ``event_id``) a cursor stands for; ``InvalidCursor`` otherwise."""
    if len(cursor) > MAX_CURSOR_CHARS:
        raise InvalidCursor("cursor too long")
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        data = json.loads(raw)
        if not (
            isinstance(data, list) and len(data) == 2 and all(isinstance(x, str) for x in data)
        ):
            raise ValueError("not a [started_at, id] pair")
        when = dt.datetime.fromisoformat(data[0])
    except (binascii.Error, ValueError) as exc:  # UnicodeDecodeError is a ValueError
        raise InvalidCursor("malformed cursor") from exc
    if when.tzinfo is None or not data[1] or len(data[1]) > MAX_ID_CHARS:
        raise InvalidCursor("malformed cursor")
    return when.astimezone(dt.UTC), data[1]
