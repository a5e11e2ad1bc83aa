"""Motion gate on synthetic frames: static scenes, moving squares, noise, masks, size changes."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from guardian.edge.camera.motion import MotionConfig, MotionGate, MotionResult, should_detect

W, H = 320, 240
Image = npt.NDArray[np.uint8]


def scene(width: int = W, height: int = H, seed: int = 7) -> Image:
    """A smooth textured RGB background, like a wall and floor rather than white noise."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(40, 200, (height // 16 + 1, width // 16 + 1, 3), dtype=np.uint8)
    return np.ascontiguousarray(np.kron(coarse, np.ones((16, 16, 1), np.uint8))[:height, :width])


def with_square(base: Image, x: int, y: int, size: int = 40) -> Image:
    frame = base.copy()
    frame[y : y + size, x : x + size] = 255
    return frame


def warm(gate: MotionGate, frame: Image, n: int = 5) -> MotionResult:
    result = gate.update(frame)
    for _ in range(n - 1):
        result = gate.update(frame)
    return result


def contains(box: tuple[float, float, float, float], x: int, y: int, size: int) -> bool:
    x1, y1, x2, y2 = box
    return x1 <= x and y1 <= y and x2 >= x + size and y2 >= y + size


def test_first_frame_asks_for_a_look_at_the_whole_scene() -> None:
    result = MotionGate().update(scene())
    assert result.moving
    assert result.changed_fraction == 1.0
    assert result.boxes == [(0.0, 0.0, float(W), float(H))]


def test_static_scene_has_no_motion_after_warm_up() -> None:
    gate = MotionGate()
    base = scene()
    gate.update(base)
    for _ in range(20):
        result = gate.update(base)
        assert not result.moving
        assert result.changed_fraction == 0.0
        assert result.boxes == []


def test_a_moving_square_is_motion_with_a_box_around_it() -> None:
    gate = MotionGate()
    base = scene()
    warm(gate, base)
    for step in range(6):
        x, y = 60 + step * 30, 100
        result = gate.update(with_square(base, x, y))
        assert result.moving
        assert result.changed_fraction > 0.01
        # The box hugs the square: it contains it and is not much bigger.
        around = [b for b in result.boxes if contains(b, x, y, 40)]
        assert around, result.boxes
        x1, y1, x2, y2 = around[0]
        assert (x2 - x1) <= 40 + 2 * 30 + 24
        assert (y2 - y1) <= 40 + 24
        assert all(0 <= v <= W for v in (x1, x2)) and all(0 <= v <= H for v in (y1, y2))


def test_a_square_that_stops_moving_fades_into_the_background() -> None:
    gate = MotionGate(MotionConfig(learning_rate=0.3))
    base = scene()
    warm(gate, base)
    still = with_square(base, 100, 80)
    assert gate.update(still).moving
    for _ in range(30):
        result = gate.update(still)
    assert not result.moving


def test_sensor_noise_below_the_threshold_is_not_motion() -> None:
    gate = MotionGate()
    base = scene()
    rng = np.random.default_rng(1)
    warm(gate, base)
    for _ in range(30):
        noise = rng.normal(0.0, 4.0, base.shape)
        frame = np.clip(base.astype(np.float64) + noise, 0, 255).astype(np.uint8)
        result = gate.update(frame)
        assert not result.moving, result.changed_fraction


def test_a_change_smaller_than_min_area_is_not_motion() -> None:
    base = scene()
    gate = MotionGate(MotionConfig(min_area=0.05))
    warm(gate, base)
    result = gate.update(with_square(base, 100, 100, size=20))
    assert not result.moving
    assert 0.0 < result.changed_fraction < 0.05
    assert result.boxes == []


def test_a_mask_hides_motion_inside_it_only() -> None:
    right_half = ((0.5, 0.0), (1.0, 0.0), (1.0, 1.0), (0.5, 1.0))
    gate = MotionGate(MotionConfig(masks=(right_half,)))
    base = scene()
    warm(gate, base)
    hidden = gate.update(with_square(base, 220, 100))
    assert not hidden.moving
    assert hidden.changed_fraction == 0.0
    seen = gate.update(with_square(base, 40, 100))
    assert seen.moving
    assert all(box[2] <= W / 2 + 16 for box in seen.boxes)


def test_a_changed_frame_size_reinitialises_the_background() -> None:
    gate = MotionGate()
    warm(gate, scene())
    bigger = scene(640, 480, seed=3)
    result = gate.update(bigger)
    assert result.moving
    assert result.boxes == [(0.0, 0.0, 640.0, 480.0)]
    assert not gate.update(bigger).moving
    x, y = 300, 200
    moved = gate.update(with_square(bigger, x, y, size=80))
    assert moved.moving
    assert any(contains(b, x, y, 80) for b in moved.boxes)


def test_grey_and_small_frames_are_accepted() -> None:
    gate = MotionGate()
    grey = scene(100, 60)[:, :, 0].copy()
    warm(gate, grey)
    assert not gate.update(grey).moving
    moved = grey.copy()
    moved[10:40, 20:50] = 255
    result = gate.update(moved)
    assert result.moving
    assert any(contains(b, 20, 10, 30) for b in result.boxes)


def test_reset_forgets_the_background() -> None:
    gate = MotionGate()
    warm(gate, scene())
    gate.reset()
    assert gate.update(scene()).changed_fraction == 1.0


def test_detection_runs_on_motion_or_while_tracking() -> None:
    still = MotionResult(False, 0.0, [])
    moving = MotionResult(True, 0.1, [(0.0, 0.0, 1.0, 1.0)])
    assert not should_detect(still, tracking=False)
    assert should_detect(still, tracking=True)
    assert should_detect(moving, tracking=False)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"width": 4},
        {"blur": 4},
        {"learning_rate": 0.0},
        {"pixel_threshold": 300},
        {"min_area": 1.5},
    ],
)
def test_bad_config_is_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        MotionConfig(**kwargs)  # type: ignore[arg-type]
