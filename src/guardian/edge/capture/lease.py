"""Keeping jobs' leases alive from one shared background thread while workers run them."""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from types import TracebackType

from sqlalchemy.orm import Session, sessionmaker

from guardian.edge.store.queue import heartbeat
from guardian.edge.store.tables import Job

logger = logging.getLogger(__name__)


class LeaseKeeper:
    """Heartbeats ``job`` every ``interval`` seconds until stopped; notes a lost lease.

    Use as a context manager around the work. ``lost`` is set once another worker has
    rescued the job (the work's result must then be thrown away). The beats come from
    one process-wide thread (``_Beater``), not a thread per job: most jobs end long
    before their first beat is due, and starting and joining a thread per job cost
    more than the job's own database work.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        job: Job,
        worker_id: str,
        interval: float,
        clock: Callable[[], dt.datetime],
    ) -> None:
        self._sessions = sessions
        self._job_id = job.id
        self._attempt = job.attempts
        self._worker_id = worker_id
        self.interval = interval
        self._clock = clock
        self._stopped = threading.Event()
        self._beating = threading.Lock()  # held while a beat of this lease is in flight
        self.lost = threading.Event()

    def beat(self) -> bool:
        """One heartbeat (called by the beater); ``True`` to keep beating."""
        with self._beating:
            if self._stopped.is_set():
                return False
            try:
                ours = heartbeat(
                    self._sessions,
                    self._job_id,
                    self._worker_id,
                    attempt=self._attempt,
                    now=self._clock(),
                )
            except Exception:  # a database hiccup: the next beat may get through
                logger.exception("heartbeat failed", extra={"job_id": self._job_id})
                return True
            if ours:
                return True
            if not self._stopped.is_set():
                logger.warning(
                    "lease lost: another worker rescued the job",
                    extra={"job_id": self._job_id, "worker": self._worker_id},
                )
            self.lost.set()
            return False

    @property
    def stopped(self) -> bool:
        """Whether ``stop`` was called."""
        return self._stopped.is_set()

    def stop(self) -> None:
        """Stop heartbeating (idempotent); waits for an in-flight beat to finish."""
        self._stopped.set()
        with self._beating:
            pass

    def __enter__(self) -> LeaseKeeper:
        _beater().add(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class _Beater:
    """The thread beating every active lease when its interval comes round."""

    def __init__(self) -> None:
        self._wake = threading.Condition()
        self._due: list[tuple[float, int, LeaseKeeper]] = []
        self._order = itertools.count()
        self._thread = threading.Thread(target=self._run, name="lease-beater", daemon=True)
        self._thread.start()

    def add(self, keeper: LeaseKeeper) -> None:
        self._schedule(keeper, time.monotonic() + keeper.interval)

    def _schedule(self, keeper: LeaseKeeper, at: float) -> None:
        with self._wake:
            heapq.heappush(self._due, (at, next(self._order), keeper))
            if self._due[0][2] is keeper:
                self._wake.notify()

    def _next_due(self) -> LeaseKeeper:
        with self._wake:
            while True:
                # Stopped leases are dropped here, so the heap holds only recent ones.
                while self._due and self._due[0][2].stopped:
                    heapq.heappop(self._due)
                if self._due and self._due[0][0] <= time.monotonic():
                    return heapq.heappop(self._due)[2]
                timeout = self._due[0][0] - time.monotonic() if self._due else None
                self._wake.wait(timeout)

    def _run(self) -> None:
        while True:
            keeper = self._next_due()
            try:
                again = keeper.beat()
            except Exception:  # never let one lease kill the beats of all the others
                logger.exception("lease beat crashed")
                again = True
            if again:
                self._schedule(keeper, time.monotonic() + keeper.interval)


_BEATER: _Beater | None = None
_BEATER_LOCK = threading.Lock()


def _beater() -> _Beater:
    global _BEATER
    with _BEATER_LOCK:
        if _BEATER is None:
            _BEATER = _Beater()
        return _BEATER
