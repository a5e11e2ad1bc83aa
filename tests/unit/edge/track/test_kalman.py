"""Constant-velocity box Kalman filter: convergence, time steps, gating."""

from __future__ import annotations

import numpy as np
import pytest

from guardian.edge.track.kalman import BoxKalman, KalmanParams, box_to_z, z_to_box

from .scenes import box_det


def test_box_round_trip() -> None:
    box = (10.0, 20.0, 50.0, 120.0)
    assert z_to_box(box_to_z(box)) == box


def test_learns_velocity_and_predicts_with_uneven_steps() -> None:
    kf = BoxKalman(box_det(100.0, 200.0).box, KalmanParams())
    t = 0.0
    for dt in [0.1, 0.3, 0.05, 0.2, 0.4, 0.1, 0.25, 0.2]:
        t += dt
        kf.predict(dt)
        kf.update(box_det(100.0 + 150.0 * t, 200.0 - 50.0 * t).box)
    vx, vy = kf.velocity
    assert vx == pytest.approx(150.0, rel=0.1)
    assert vy == pytest.approx(-50.0, abs=10.0)
    kf.predict(0.5)
    cx = (kf.box[0] + kf.box[2]) / 2.0
    assert cx == pytest.approx(100.0 + 150.0 * (t + 0.5), abs=10.0)


def test_zero_step_is_a_no_op_and_negative_raises() -> None:
    kf = BoxKalman(box_det(100.0, 200.0).box, KalmanParams())
    x, p = kf.x.copy(), kf.P.copy()
    kf.predict(0.0)
    assert np.array_equal(kf.x, x) and np.array_equal(kf.P, p)
    with pytest.raises(ValueError):
        kf.predict(-0.1)


def test_gate_widens_while_coasting() -> None:
    kf = BoxKalman(box_det(100.0, 200.0).box, KalmanParams())
    far = np.array([box_det(160.0, 200.0).box])
    kf.predict(0.2)
    near_term = float(kf.gating_distance(far)[0])
    kf.predict(1.0)
    assert float(kf.gating_distance(far)[0]) < near_term
    assert kf.gating_distance(np.zeros((0, 4))).shape == (0,)


def test_degenerate_box_keeps_covariance_finite() -> None:
    kf = BoxKalman((10.0, 10.0, 10.0, 10.0), KalmanParams())
    kf.predict(0.2)
    kf.update((10.0, 10.0, 10.0, 10.0))
    assert np.all(np.isfinite(kf.P))
    assert kf.box[2] >= kf.box[0] and kf.box[3] >= kf.box[1]
