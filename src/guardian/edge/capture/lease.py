"""Keeping a job's lease alive from a background thread while a worker runs it."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from types import TracebackType

from sqlalchemy.orm import Session, sessionmaker

from guardian.edge.store.queue import heartbeat
from guardian.edge.store.tables import Job

logger = logging.getLogger(__name__)


class LeaseKeeper:
    """Heartbeats ``job`` every ``interval`` seconds until stopped; notes a lost lease.

    Use as a context manager around the work. ``lost`` is set once another worker has
    rescued the job (the work's result must then be thrown away).
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
        self._interval = interval
        self._clock = clock
        self._stopped = threading.Event()
        self.lost = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{job.id}", daemon=True)

    def _run(self) -> None:
        while not self._stopped.wait(self._interval):
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
                continue
            if not ours:
                if not self._stopped.is_set():
                    logger.warning(
                        "lease lost: another worker rescued the job",
                        extra={"job_id": self._job_id, "worker": self._worker_id},
                    )
                self.lost.set()
                return

    def stop(self) -> None:
        """Stop heartbeating (idempotent); waits for an in-flight beat to finish."""
        self._stopped.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
