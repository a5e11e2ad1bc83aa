"""Delivery policy (pure): what an edge answer means for a spooled item, and backoff maths."""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass

from guardian.device.client import UploadResult

# The edge will never accept these bytes under this seq: re-sending cannot help.
PERMANENT_STATUSES = frozenset({409, 413, 415, 422})


class Action(enum.Enum):
    """What to do with the item after one upload attempt."""

    DELIVERED = "delivered"  # remove from the spool
    REJECT = "reject"  # move to rejected/, never resend
    RETRY = "retry"  # keep, wait, send again
    RESEQUENCE = "resequence"  # our seq was used before (reflashed device): send under a new one


@dataclass(frozen=True)
class Decision:
    """An action and, for RETRY, the edge's requested wait (None: use our backoff)."""

    action: Action
    reason: str
    retry_after: float | None = None
    next_seq: int | None = None


def _next_seq(result: UploadResult) -> int | None:
    error = (result.body or {}).get("error")
    value = error.get("next_seq") if isinstance(error, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def decide(result: UploadResult) -> Decision:
    """Classify one upload result.

    Only answers that are permanent by contract reject an item; anything unexpected (401, a
    404 from a misconfigured URL, 5xx, no answer at all) is retried, because dropping a
    capture is worse than waiting for an operator to fix the edge or the key.
    """
    status = result.status_code
    if result.delivered:
        return Decision(Action.DELIVERED, "duplicate" if result.duplicate else "accepted")
    if status is None:
        return Decision(Action.RETRY, f"edge unreachable: {result.error}")
    if status == 409:
        next_seq = _next_seq(result)
        if next_seq is not None:
            return Decision(
                Action.RESEQUENCE,
                f"device_seq already used on the edge (reflashed device?); it resumes at "
                f"{next_seq}",
                next_seq=next_seq,
            )
    if status in PERMANENT_STATUSES:
        return Decision(Action.REJECT, f"edge refused it permanently ({status}): {result.error}")
    if status == 429:
        return Decision(Action.RETRY, "rate limited", retry_after=result.retry_after)
    if status == 401:
        return Decision(Action.RETRY, f"edge rejected our signature (key or clock): {result.error}")
    if status in (200, 201):
        return Decision(Action.RETRY, "success answer without a capture_id")
    return Decision(Action.RETRY, f"edge answered {status}: {result.error}")


def backoff_delay(attempt: int, base: float, cap: float, jitter: float) -> float:
    """Delay before retry number ``attempt`` (0-based): ``base·2^attempt`` capped, jittered.

    ``jitter`` in [0, 1) picks a point in the upper half of the window ("equal jitter"): the
    delay still grows, but many devices recovering from one outage spread out.
    """
    if base <= 0 or cap <= 0:
        return 0.0
    window = min(cap, base * 2.0 ** min(attempt, 62))
    return window / 2 + window / 2 * jitter


class Backoff:
    """Consecutive-failure counter producing :func:`backoff_delay` delays."""

    def __init__(self, base: float = 1.0, cap: float = 60.0, rng: random.Random | None = None):
        self.base = base
        self.cap = cap
        self.attempts = 0
        self._rng = rng or random.Random()

    def next_delay(self) -> float:
        """The delay for this failure; the next one will be longer (up to the cap)."""
        delay = backoff_delay(self.attempts, self.base, self.cap, self._rng.random())
        self.attempts += 1
        return delay

    def reset(self) -> None:
        """Forget past failures (after a success)."""
        self.attempts = 0


def retry_wait(decision: Decision, backoff: Backoff, max_retry_after: float) -> float:
    """How long to wait before the next attempt after a RETRY decision."""
    if decision.retry_after is not None:
        # The edge said when; obey it (bounded, so a bogus header cannot park us for days).
        return min(max(decision.retry_after, 0.0), max_retry_after)
    return backoff.next_delay()
