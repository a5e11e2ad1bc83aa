"""Login throttling per account and per address, counted in ``login_failures``."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from guardian.control.store.tables import LoginFailure

ADDRESS_FACTOR = 4  # an address may fail this many times more often than one account


@dataclass(frozen=True, slots=True)
class Counter:
    """One throttled key and how many failures it may have per window."""

    key: str
    limit: int


def counters(email: str, address: str | None, max_failures: int) -> list[Counter]:
    """The counters a login attempt for ``email`` from ``address`` is charged to."""
    keys = [Counter(f"account:{email.strip().lower()}"[:400], max_failures)]
    if address:
        keys.append(Counter(f"address:{address}"[:400], max_failures * ADDRESS_FACTOR))
    return keys


def wait_seconds(
    window_start: dt.datetime, count: int, limit: int, now: dt.datetime, window_seconds: int
) -> int | None:
    """Seconds until one more attempt is allowed, or None if it is allowed now."""
    ends = window_start + dt.timedelta(seconds=window_seconds)
    if now >= ends or count < limit:
        return None
    return max(1, math.ceil((ends - now).total_seconds()))


def retry_after(
    session: Session, keys: list[Counter], now: dt.datetime, window_seconds: int
) -> int | None:
    """The longest wait any of ``keys`` imposes, or None if the attempt may go ahead."""
    waits = []
    for counter in keys:
        row = session.get(LoginFailure, counter.key)
        if row is not None:
            wait = wait_seconds(row.window_start, row.count, counter.limit, now, window_seconds)
            if wait is not None:
                waits.append(wait)
    return max(waits) if waits else None


def record_failure(
    session: Session, keys: list[Counter], now: dt.datetime, window_seconds: int
) -> None:
    """Count one failed attempt on every key (starting a new window where one ended)."""
    window_open = now - dt.timedelta(seconds=window_seconds)
    for counter in keys:
        same_window = session.execute(
            update(LoginFailure)
            .where(LoginFailure.key == counter.key, LoginFailure.window_start > window_open)
            .values(count=LoginFailure.count + 1)
        )
        if getattr(same_window, "rowcount", 0):
            continue
        new_window = session.execute(
            update(LoginFailure)
            .where(LoginFailure.key == counter.key)
            .values(count=1, window_start=now)
        )
        if getattr(new_window, "rowcount", 0):
            continue
        try:
            with session.begin_nested():
                session.add(LoginFailure(key=counter.key, window_start=now, count=1))
        except IntegrityError:  # a concurrent attempt created it: count on it
            session.execute(
                update(LoginFailure)
                .where(LoginFailure.key == counter.key)
                .values(count=LoginFailure.count + 1)
            )


def clear(session: Session, key: str) -> None:
    """Forget the failures of ``key`` (after a successful login to that account)."""
    session.execute(delete(LoginFailure).where(LoginFailure.key == key))
