"""Archive quota rules."""

from __future__ import annotations

import pytest

from guardian.relay.archive.quota import QuotaExceeded, fits, require_fits


@pytest.mark.parametrize(
    ("used", "adding", "limit", "expected"),
    [
        (0, 0, 0, True),
        (0, 10, 10, True),
        (5, 5, 10, True),
        (5, 6, 10, False),
        (11, 0, 10, False),
        (10**15, 10**15, None, True),
    ],
)
def test_fits(used: int, adding: int, limit: int | None, expected: bool) -> None:
    assert fits(used, adding, limit) is expected


def test_negative_sizes_are_a_bug() -> None:
    with pytest.raises(ValueError):
        fits(-1, 0, 10)


def test_the_refusal_says_what_is_used_needed_and_allowed() -> None:
    with pytest.raises(QuotaExceeded) as caught:
        require_fits(900, 200, 1000)
    message = str(caught.value)
    assert "1000" in message and "900" in message and "200" in message
    assert "keeps the job" in message
    require_fits(800, 200, 1000)  # exactly at the limit is fine
