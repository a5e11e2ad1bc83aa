"""An owner for long-lived worker threads: one stop event, restart on crash up to a cap."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

WorkerFactory = Callable[[threading.Event], threading.Thread]


@dataclass
class _Slot:
    name: str
    factory: WorkerFactory
    thread: threading.Thread | None = None
    restarts: int = 0
    gave_up: bool = False


@dataclass
class Supervisor:
    """Starts named workers in order, restarts one that dies, stops all in reverse order.

    A factory gets the shared stop event and returns an unstarted thread; a worker that
    exits while the supervisor is running counts as crashed.
    """

    max_restarts: int = 5
    check_interval: float = 1.0
    stop_event: threading.Event = field(default_factory=threading.Event)
    _slots: list[_Slot] = field(default_factory=list)
    _watchdog: threading.Thread | None = None

    def add(self, name: str, factory: WorkerFactory) -> None:
        self._slots.append(_Slot(name, factory))

    def start(self) -> None:
        for slot in self._slots:
            self._launch(slot)
        self._watchdog = threading.Thread(target=self._watch, name="watchdog", daemon=True)
        self._watchdog.start()

    def _launch(self, slot: _Slot) -> None:
        thread = slot.factory(self.stop_event)
        thread.name = slot.name
        thread.daemon = True
        thread.start()
        slot.thread = thread
        logger.info("worker started", extra={"worker": slot.name, "restarts": slot.restarts})

    def _watch(self) -> None:
        while not self.stop_event.wait(self.check_interval):
            self.check()

    def check(self) -> None:
        """Restart workers that died (called by the watchdog; public for tests)."""
        for slot in self._slots:
            if slot.gave_up or slot.thread is None or slot.thread.is_alive():
                continue
            if self.stop_event.is_set():
                return
            if slot.restarts >= self.max_restarts:
                slot.gave_up = True
                logger.error("worker keeps crashing; not restarting", extra={"worker": slot.name})
                continue
            slot.restarts += 1
            logger.warning("worker died; restarting", extra={"worker": slot.name})
            self._launch(slot)

    def status(self) -> dict[str, dict[str, object]]:
        """Each worker: alive, restarts, gave_up (for health reporting)."""
        return {
            s.name: {
                "alive": bool(s.thread and s.thread.is_alive()),
                "restarts": s.restarts,
                "gave_up": s.gave_up,
            }
            for s in self._slots
        }

    def stop(self, timeout: float = 10.0) -> None:
        self.stop_event.set()
        for slot in reversed(self._slots):
            if slot.thread is not None:
                slot.thread.join(timeout)
        if self._watchdog is not None:
            self._watchdog.join(timeout)
