"""Crash injection for tests: die at a named point when ``GUARDIAN_FAULTS`` names it.

``GUARDIAN_FAULTS=after_file_fsync,before_commit`` makes the process SIGKILL itself the
first time it reaches either point. Production never sets the variable; the check is one
dictionary lookup.
"""

from __future__ import annotations

import os
import signal

ENV = "GUARDIAN_FAULTS"


def _armed() -> frozenset[str]:
    return frozenset(p.strip() for p in os.environ.get(ENV, "").split(",") if p.strip())


_ARMED = _armed()


def hit(point: str) -> None:
    """Kill this process (SIGKILL: no cleanup, no flush) if ``point`` is armed."""
    if point in _ARMED:
        os.kill(os.getpid(), signal.SIGKILL)
