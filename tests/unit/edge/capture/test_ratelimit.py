"""Per-device token buckets with an injected clock."""

from __future__ import annotations

import threading

import pytest

from guardian.edge.capture.ratelimit import RateLimiter, retry_after_header


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_burst_then_wait_then_refill() -> None:
    clock = FakeClock()
    # Binary fractions keep the float arithmetic exact.
    limiter = RateLimiter(rate=4.0, burst=3, clock=clock)
    assert [limiter.acquire("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.acquire("a") == 0.25
    clock.now += 0.125
    assert limiter.acquire("a") == 0.125  # a refusal takes nothing
    clock.now += 0.125
    assert limiter.acquire("a") == 0.0
    clock.now += 60  # refill is capped at the burst
    assert [limiter.acquire("a") for _ in range(4)][-1] > 0


def test_devices_have_separate_buckets() -> None:
    limiter = RateLimiter(rate=1.0, burst=1, clock=FakeClock())
    assert limiter.acquire("a") == 0.0
    assert limiter.acquire("a") == pytest.approx(1.0)
    assert limiter.acquire("b") == 0.0


def test_a_clock_stepping_back_neither_drains_nor_fills() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=1.0, burst=2, clock=clock)
    limiter.acquire("a")
    clock.now -= 100
    assert limiter.acquire("a") == 0.0
    assert limiter.acquire("a") == pytest.approx(1.0)


def test_threads_never_get_more_than_the_burst() -> None:
    limiter = RateLimiter(rate=1e-9, burst=50, clock=FakeClock())
    allowed: list[bool] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def hammer() -> None:
        start.wait()
        for _ in range(100):
            ok = limiter.acquire("a") == 0.0
            with lock:
                allowed.append(ok)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(allowed) == 50


@pytest.mark.parametrize(("wait", "header"), [(0.01, "1"), (1.0, "1"), (1.2, "2"), (59.9, "60")])
def test_retry_after_is_whole_seconds_rounded_up(wait: float, header: str) -> None:
    assert retry_after_header(wait) == header


def test_nonsense_limits_are_refused() -> None:
    with pytest.raises(ValueError):
        RateLimiter(rate=0, burst=1)
