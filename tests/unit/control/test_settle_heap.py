"""``guardian control run`` freezes its start-up heap so full collections skip it."""

from __future__ import annotations

import gc

from guardian.control.service import settle_heap


def test_the_start_up_heap_is_frozen_and_new_garbage_still_collected() -> None:
    try:
        settle_heap()
        frozen = gc.get_freeze_count()
        assert frozen > 1000  # this test process's modules, at least
        cycle: list[object] = []
        cycle.append(cycle)
        del cycle
        assert gc.collect() >= 1  # garbage made afterwards is still found
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
