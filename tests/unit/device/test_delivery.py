"""Delivery policy: which answers deliver, reject or retry, and the backoff maths."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from guardian.device.client import UploadResult
from guardian.device.delivery import Action, Backoff, backoff_delay, decide, retry_wait


@pytest.mark.parametrize(
    ("result", "action"),
    [
        (UploadResult(201, capture_id="c1"), Action.DELIVERED),
        (UploadResult(200, capture_id="c1", duplicate=True), Action.DELIVERED),
        (UploadResult(409, error="different bytes"), Action.REJECT),
        (UploadResult(413, error="too large"), Action.REJECT),
        (UploadResult(415, error="not an image"), Action.REJECT),
        (UploadResult(422, error="bad field"), Action.REJECT),
        (UploadResult(401, error="bad signature"), Action.RETRY),
        (UploadResult(429, retry_after=3.0), Action.RETRY),
        (UploadResult(500), Action.RETRY),
        (UploadResult(503), Action.RETRY),
        (UploadResult(507, error="disk full"), Action.RETRY),
        (UploadResult(404), Action.RETRY),
        (UploadResult(None, error="ConnectError"), Action.RETRY),
        (UploadResult(201), Action.RETRY),  # no capture_id: not proof of delivery
    ],
)
def test_decide(result: UploadResult, action: Action) -> None:
    assert decide(result).action is action


def test_decide_carries_retry_after_only_for_429() -> None:
    assert decide(UploadResult(429, retry_after=7.0)).retry_after == 7.0
    assert decide(UploadResult(503, retry_after=7.0)).retry_after is None


def test_backoff_doubles_up_to_the_cap() -> None:
    assert [backoff_delay(a, 1.0, 60.0, 0.999999) for a in range(8)] == pytest.approx(
        [1, 2, 4, 8, 16, 32, 60, 60], rel=1e-5
    )
    assert [backoff_delay(a, 1.0, 60.0, 0.0) for a in range(8)] == pytest.approx(
        [0.5, 1, 2, 4, 8, 16, 30, 30]
    )


def test_backoff_disabled() -> None:
    assert backoff_delay(5, 0.0, 60.0, 0.5) == 0.0


@given(
    attempt=st.integers(min_value=0, max_value=10_000),
    base=st.floats(min_value=1e-3, max_value=100),
    cap=st.floats(min_value=1e-3, max_value=10_000),
    jitter=st.floats(min_value=0, max_value=1, exclude_max=True),
)
def test_backoff_within_jitter_window(attempt: int, base: float, cap: float, jitter: float) -> None:
    window = min(cap, base * 2.0**attempt) if attempt < 1000 else cap
    delay = backoff_delay(attempt, base, cap, jitter)
    assert window / 2 <= delay <= window
    assert delay <= cap


def test_backoff_object_grows_and_resets() -> None:
    backoff = Backoff(base=0.1, cap=1.0, rng=random.Random(7))
    delays = [backoff.next_delay() for _ in range(10)]
    assert backoff.attempts == 10
    assert all(0.05 <= d <= 1.0 for d in delays)
    assert delays[-1] >= 0.5  # capped window reached
    backoff.reset()
    assert backoff.next_delay() <= 0.1


def test_retry_wait_honours_retry_after_bounded() -> None:
    backoff = Backoff(base=10.0, cap=10.0, rng=random.Random(1))
    assert retry_wait(decide(UploadResult(429, retry_after=2.0)), backoff, 3600) == 2.0
    assert retry_wait(decide(UploadResult(429, retry_after=99999.0)), backoff, 600) == 600
    assert backoff.attempts == 0  # an announced wait is not a failure streak
    assert 5.0 <= retry_wait(decide(UploadResult(429)), backoff, 600) <= 10.0
    assert 5.0 <= retry_wait(decide(UploadResult(503)), backoff, 600) <= 10.0


@pytest.mark.parametrize(
    ("error", "action", "next_seq"),
    [
        ({"code": "conflict", "message": "used", "next_seq": 17}, Action.RESEQUENCE, 17),
        ({"code": "conflict", "message": "used"}, Action.REJECT, None),
        ({"code": "conflict", "message": "used", "next_seq": "17"}, Action.REJECT, None),
        ({"code": "conflict", "message": "used", "next_seq": -1}, Action.REJECT, None),
        ({"code": "conflict", "message": "used", "next_seq": True}, Action.REJECT, None),
    ],
)
def test_a_409_naming_the_edge_sequence_resequences(
    error: dict[str, object], action: Action, next_seq: int | None
) -> None:
    result = UploadResult(status_code=409, error="used", body={"error": error})
    decision = decide(result)
    assert decision.action is action and decision.next_seq == next_seq
