"""Opaque keyset cursors over (``started_at``, ``id``), newest first (the shared format)."""

from __future__ import annotations

from guardian.common.cursor import MAX_CURSOR_CHARS, InvalidCursor, decode_cursor, encode_cursor

__all__ = ["MAX_CURSOR_CHARS", "InvalidCursor", "decode_cursor", "encode_cursor"]
