"""The ingest's thread switch interval: shortened to the tuned value, never lengthened."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from guardian.edge.capture.gil import SWITCH_INTERVAL_S, tune_for_ingest


@pytest.fixture
def restore_interval() -> Iterator[None]:
    before = sys.getswitchinterval()
    yield
    sys.setswitchinterval(before)


@pytest.mark.usefixtures("restore_interval")
def test_the_default_interval_is_shortened() -> None:
    sys.setswitchinterval(0.005)
    tune_for_ingest()
    assert sys.getswitchinterval() == pytest.approx(SWITCH_INTERVAL_S)


@pytest.mark.usefixtures("restore_interval")
def test_a_shorter_interval_is_kept() -> None:
    sys.setswitchinterval(0.0001)
    tune_for_ingest()
    assert sys.getswitchinterval() == pytest.approx(0.0001)
