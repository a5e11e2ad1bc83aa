"""Opaque keyset cursors over (``started_at``, ``id``) for the relay's event list (the shared
format)."""

from __future__ import annotations

from guardian.common.cursor import (
    MAX_CURSOR_CHARS,
    MAX_ID_CHARS,
    InvalidCursor,
    decode_cursor,
    encode_cursor,
)

__all__ = ["MAX_CURSOR_CHARS", "MAX_ID_CHARS", "InvalidCursor", "decode_cursor", "encode_cursor"]
