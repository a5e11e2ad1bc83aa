"""Putting work on the edge's job queue (claiming and running it: ``queue.py``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from guardian.common.db import utcnow
from guardian.edge.store.tables import Job

KIND_DETECT_CAPTURE = "detect_capture"


def job_values(
    kind: str,
    ref_id: str,
    *,
    fair_key: str,
    max_attempts: int = 5,
    payload: dict[str, Any] | None = None,
    run_after: dt.datetime | None = None,
) -> dict[str, Any]:
    """The column values of a new queued job (for bulk inserts; ``enqueue`` adds one)."""
    now = utcnow()
    return {
        "kind": kind,
        "ref_id": ref_id,
        "fair_key": fair_key,
        "payload": payload,
        "state": "queued",
        "attempts": 0,
        "max_attempts": max_attempts,
        "run_after": run_after or now,
        "created_at": now,
    }


def enqueue(
    session: Session,
    kind: str,
    ref_id: str,
    *,
    fair_key: str,
    max_attempts: int = 5,
    payload: dict[str, Any] | None = None,
    run_after: dt.datetime | None = None,
) -> Job:
    """Add a queued job in the caller's transaction (so it commits with its subject row).

    ``(kind, ref_id)`` is unique: one job per subject. ``fair_key`` (e.g. the device id)
    is what workers spread their claims over.
    """
    job = Job(
        **job_values(
            kind,
            ref_id,
            fair_key=fair_key,
            max_attempts=max_attempts,
            payload=payload,
            run_after=run_after,
        )
    )
    session.add(job)
    return job
