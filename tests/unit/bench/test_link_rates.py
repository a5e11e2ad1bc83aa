"""The link bench's drain rate: events after the first control-plane commit per second."""

from __future__ import annotations

import pytest

from guardian.bench.link import drain_rate


def test_the_first_commit_is_left_out_and_the_rest_counted_over_the_span() -> None:
    arrivals = [10.0] * 500 + [10.5] * 500 + [11.0] * 500
    assert drain_rate(arrivals, started=0.0) == pytest.approx(1000 / 1.0)


def test_start_up_before_the_first_arrival_does_not_count() -> None:
    assert drain_rate([100.0, 101.0, 102.0], started=0.0) == pytest.approx(1.0)


def test_one_commit_counts_from_the_start() -> None:
    assert drain_rate([12.0] * 300, started=10.0) == pytest.approx(150.0)


def test_no_arrivals_is_an_error() -> None:
    with pytest.raises(ValueError, match="no arrivals"):
        drain_rate([], started=0.0)
