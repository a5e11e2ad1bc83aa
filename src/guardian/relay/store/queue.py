"""The forward queue: summaries leased in batches for the control plane, retried with backoff.

A claimed row is leased (its ``next_attempt_at`` moves ``lease`` ahead), so a forwarder
that dies mid-send leaves nothing stuck: the rows come due again when the lease ends.
A row leaves the queue only through ``mark_forwarded``, after the control plane answered,
or when a newer version of its event supersedes it (``cache._enqueue``).

Rows are settled by what was claimed, ``(id, event_id, version)``, never by id alone: a
superseded row can be deleted while its push is in flight, and SQLite gives a deleted
row's id to the next row inserted once no higher id is left. Settling by id alone would
then delete (or delay) a row that was never sent.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, delete, func, select, tuple_, update
from sqlalchemy.orm import Session

from guardian.relay.store.tables import ForwardQueue

DEFAULT_LEASE = dt.timedelta(seconds=60)
DEFAULT_BACKOFF_BASE_S = 0.5
DEFAULT_BACKOFF_CAP_S = 30.0
MAX_ERROR_CHARS = 1000
# 2**60 times any sane base is far beyond any cap; stopping here keeps the float finite.
_MAX_EXPONENT = 60


@dataclass(frozen=True, slots=True)
class QueuedSummary:
    """A claimed queue row: the summary to send and how often sending it failed so far."""

    id: int
    event_id: str
    tenant_id: str
    version: int
    summary: dict[str, Any]
    attempts: int


@dataclass(frozen=True, slots=True)
class QueueDepth:
    """How much waits to be forwarded, and since when (for metrics and warnings)."""

    count: int
    oldest_created_at: dt.datetime | None


def retry_delay(attempts: int, base: float, cap: float, u: float) -> float:
    """Seconds to wait after the ``attempts``-th failure, for ``u`` uniform in ``[0, 1)``.

    The ceiling doubles from ``base`` per failure up to ``cap``; the delay lies in its upper
    half (equal jitter): spread out, so relays do not retry in lock-step after a control
    plane outage, but never near zero, so a down control plane is not hammered.
    """
    if attempts < 1:
        raise ValueError(f"attempts count from 1, got {attempts}")
    if base <= 0 or cap <= 0:
        raise ValueError(f"base and cap must be positive, got base={base} cap={cap}")
    if not 0.0 <= u < 1.0:
        raise ValueError(f"u must be in [0, 1), got {u}")
    ceiling = min(cap, base * 2.0 ** min(attempts - 1, _MAX_EXPONENT))
    return ceiling / 2 * (1.0 + u)


def claim_batch(
    session: Session, limit: int, now: dt.datetime, *, lease: dt.timedelta = DEFAULT_LEASE
) -> list[QueuedSummary]:
    """Lease up to ``limit`` due rows, oldest first (rows another transaction holds are skipped)."""
    if limit < 1:
        return []
    rows = list(
        session.scalars(
            select(ForwardQueue)
            .where(ForwardQueue.next_attempt_at <= now)
            .order_by(ForwardQueue.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if not rows:
        return []
    session.execute(
        update(ForwardQueue)
        .where(ForwardQueue.id.in_([r.id for r in rows]))
        .values(next_attempt_at=now + lease)
        .execution_options(synchronize_session=False)
    )
    return [
        QueuedSummary(r.id, r.event_id, r.tenant_id, r.version, r.summary, r.attempts) for r in rows
    ]


def _claimed(claimed: Sequence[QueuedSummary]) -> ColumnElement[bool]:
    """The rows still holding exactly these claimed summaries."""
    keys = [(q.id, q.event_id, q.version) for q in claimed]
    return tuple_(ForwardQueue.id, ForwardQueue.event_id, ForwardQueue.version).in_(keys)


def mark_forwarded(session: Session, claimed: Sequence[QueuedSummary]) -> int:
    """Remove the claimed rows the control plane accepted; how many were still queued."""
    if not claimed:
        return 0
    result = session.execute(delete(ForwardQueue).where(_claimed(claimed)))
    return int(getattr(result, "rowcount", 0) or 0)


def mark_failed(
    session: Session,
    claimed: Sequence[QueuedSummary],
    error: str,
    now: dt.datetime,
    *,
    base: float = DEFAULT_BACKOFF_BASE_S,
    cap: float = DEFAULT_BACKOFF_CAP_S,
    rng: random.Random | None = None,
) -> int:
    """Count a failed attempt on each claimed row still queued and schedule its retry; how
    many rows were found.

    ``error`` is stored (truncated) for operators: it must not contain credentials.
    """
    if not claimed:
        return 0
    rows = list(
        session.scalars(select(ForwardQueue).where(_claimed(claimed)).order_by(ForwardQueue.id))
    )
    # One draw per call: a batch that failed together is retried together, in order.
    u = (rng or random).random()
    for row in rows:
        row.attempts += 1
        row.next_attempt_at = now + dt.timedelta(seconds=retry_delay(row.attempts, base, cap, u))
        row.last_error = error[:MAX_ERROR_CHARS]
    session.flush()
    return len(rows)


def queue_depth(session: Session) -> QueueDepth:
    """The number of queued summaries and the creation time of the oldest."""
    count, oldest = session.execute(
        select(func.count(ForwardQueue.id), func.min(ForwardQueue.created_at))
    ).one()
    return QueueDepth(int(count or 0), oldest)
