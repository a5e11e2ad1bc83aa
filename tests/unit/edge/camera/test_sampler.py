"""Frame sampler: the kept rate approximates detect_fps whatever the input rate and jitter."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from guardian.edge.camera.motion import FrameSampler

DETECT_FPS = 5.0


def kept(sampler: FrameSampler, times: list[float]) -> list[float]:
    return [t for t in times if sampler.keep(t)]


@pytest.mark.parametrize("input_fps", [25.0, 30.0, 12.5])
def test_regular_inputs_are_sampled_to_five_fps(input_fps: float) -> None:
    seconds = 60
    times = [i / input_fps for i in range(int(seconds * input_fps))]
    out = kept(FrameSampler(DETECT_FPS), times)
    assert abs(len(out) - seconds * DETECT_FPS) <= 1
    gaps = np.diff(out)
    # Each kept frame is the first of its 0.2 s slot, so gaps stay within one input frame.
    assert gaps.min() >= 1 / DETECT_FPS - 1 / input_fps - 1e-9
    assert gaps.max() <= 1 / DETECT_FPS + 1 / input_fps + 1e-9


@pytest.mark.parametrize("input_fps", [25.0, 30.0])
def test_exact_multiples_keep_evenly_spaced_frames(input_fps: float) -> None:
    times = [i / input_fps for i in range(int(10 * input_fps))]
    out = kept(FrameSampler(DETECT_FPS), times)
    assert out == pytest.approx([i / DETECT_FPS for i in range(50)])


def test_no_drift_over_an_hour() -> None:
    fps = 29.97
    times = [i / fps for i in range(int(3600 * fps))]
    out = kept(FrameSampler(DETECT_FPS), times)
    assert abs(len(out) - 3600 * DETECT_FPS) <= 1


def test_a_slower_input_keeps_every_frame() -> None:
    times = [i / 3.0 for i in range(30)]
    assert kept(FrameSampler(DETECT_FPS), times) == times


def test_duplicate_timestamps_are_kept_once() -> None:
    sampler = FrameSampler(DETECT_FPS)
    assert sampler.keep(10.0)
    assert not sampler.keep(10.0)


def test_a_timestamp_going_backwards_reanchors() -> None:
    sampler = FrameSampler(DETECT_FPS)
    assert kept(sampler, [100.0, 100.04, 100.2]) == [100.0, 100.2]
    assert sampler.keep(0.0)
    assert not sampler.keep(0.1)
    assert sampler.keep(0.2)


def test_reset_starts_over() -> None:
    sampler = FrameSampler(DETECT_FPS)
    assert sampler.keep(5.0)
    sampler.reset()
    assert sampler.keep(5.01)


@pytest.mark.parametrize("fps", [0.0, -1.0, math.nan, math.inf])
def test_bad_fps_is_refused(fps: float) -> None:
    with pytest.raises(ValueError):
        FrameSampler(fps)


@settings(max_examples=60, deadline=None)
@given(
    input_fps=st.floats(10.0, 60.0),
    jitter=st.floats(0.0, 0.45),
    start=st.floats(0.0, 1e5),
    seed=st.integers(0, 2**32 - 1),
)
def test_jittery_timestamps_still_give_five_fps(
    input_fps: float, jitter: float, start: float, seed: int
) -> None:
    seconds = 20.0
    rng = np.random.default_rng(seed)
    n = int(seconds * input_fps)
    period = 1 / input_fps
    # Jitter under half a period keeps timestamps in order, as a demuxer would deliver them.
    offsets = rng.uniform(-jitter, jitter, n) * period
    times = [start + i * period + float(o) for i, o in enumerate(offsets)]
    sampler = FrameSampler(DETECT_FPS)
    out = kept(sampler, times)
    span = times[-1] - times[0]
    assert abs(len(out) - span * DETECT_FPS) <= 1.0 + 1e-6
    slots = [math.floor((t - times[0]) * DETECT_FPS + 1e-6) for t in out]
    assert slots == list(range(len(out)))
    assert max(np.diff(out)) <= 1 / DETECT_FPS + 2 * period
