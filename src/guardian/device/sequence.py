"""A persistent, monotonically increasing ``device_seq`` counter shared safely across processes."""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from guardian.device.durable import write_atomic

logger = logging.getLogger(__name__)


class SequenceError(RuntimeError):
    """The counter file is unreadable; handing out numbers could reuse one, so we refuse."""


class SequenceStore:
    """Hands out ``device_seq`` numbers 0, 1, 2, … that are never reused.

    The file holds the next number to hand out. Each allocation writes the incremented value
    durably (temp → fsync → rename → fsync dir) *before* returning, so a crash can skip a
    number but never hand one out twice. An exclusive ``flock`` on a sibling lock file (not the
    counter file itself, which rename replaces) serialises processes and threads alike.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock_path = path.with_name(path.name + ".lock")

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # released by close, also when the process dies
            yield
        finally:
            os.close(fd)

    def _read(self) -> int:
        try:
            text = self.path.read_text(encoding="ascii")
        except FileNotFoundError:
            return 0
        except (OSError, UnicodeDecodeError) as exc:
            raise SequenceError(f"cannot read sequence file {self.path}: {exc}") from exc
        try:
            value = int(text.strip())
        except ValueError as exc:
            raise SequenceError(f"sequence file {self.path} is corrupt: {text[:40]!r}") from exc
        if value < 0:
            raise SequenceError(f"sequence file {self.path} holds a negative number")
        return value

    def _write(self, next_value: int) -> None:
        write_atomic(self.path, f"{next_value}\n".encode("ascii"))

    def peek(self) -> int:
        """The number the next :meth:`allocate` would return."""
        with self._locked():
            return self._read()

    def allocate(self) -> int:
        """Reserve and return the next number (durable before it is returned)."""
        with self._locked():
            value = self._read()
            self._write(value + 1)
            return value

    def advance_past(self, seq: int) -> bool:
        """Make sure every later allocation is greater than ``seq``; True when it moved.

        Guards against a lost or restored-from-backup counter file: numbers already used by
        spooled items must never be handed out again.
        """
        with self._locked():
            current = self._read()
            if current > seq:
                return False
            self._write(seq + 1)
        logger.warning(
            "device_seq counter was behind the spool; advanced it",
            extra={"sequence_file": str(self.path), "was": current, "now": seq + 1},
        )
        return True
