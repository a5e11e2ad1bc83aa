"""The worker supervisor: ordered start, restart on crash up to a cap, clean stop."""

from __future__ import annotations

import threading

from guardian.common.supervise import Supervisor


class _Crashy(threading.Thread):
    def __init__(self, stop: threading.Event, runs: list[int], crash: bool) -> None:
        super().__init__()
        self._stop_event = stop
        self._runs = runs
        self._crash = crash

    def run(self) -> None:
        self._runs.append(1)
        if self._crash:
            return  # exiting while the supervisor runs counts as a crash
        self._stop_event.wait()


def test_crashed_worker_is_restarted_up_to_the_cap() -> None:
    runs: list[int] = []
    sup = Supervisor(max_restarts=2, check_interval=3600)
    sup.add("crashy", lambda stop: _Crashy(stop, runs, crash=True))
    sup.start()
    for _ in range(5):
        slot_thread = sup._slots[0].thread
        assert slot_thread is not None
        slot_thread.join(2)
        sup.check()
    assert len(runs) == 3  # first run + 2 restarts
    assert sup.status()["crashy"]["gave_up"] is True
    sup.stop()


def test_healthy_workers_run_until_stop() -> None:
    runs: list[int] = []
    sup = Supervisor(check_interval=0.01)
    sup.add("a", lambda stop: _Crashy(stop, runs, crash=False))
    sup.add("b", lambda stop: _Crashy(stop, runs, crash=False))
    sup.start()
    sup.check()
    assert sup.status()["a"]["alive"] and sup.status()["b"]["alive"]
    sup.stop()
    assert not sup.status()["a"]["alive"] and not sup.status()["b"]["alive"]
    assert len(runs) == 2
