"""Constant-velocity Kalman filter on a box's centre and size, with variable time steps."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from guardian.edge.detect.types import Box

Vector = npt.NDArray[np.float64]
Matrix = npt.NDArray[np.float64]

# Measurement matrix: we observe (cx, cy, w, h) out of the state (cx, cy, w, h, vx, vy, vw, vh).
_H: Matrix = np.hstack([np.eye(4), np.zeros((4, 4))])


@dataclass(frozen=True, slots=True)
class KalmanParams:
    """Noise levels, all relative to the box height so they suit near and far objects alike.

    Velocities are in pixels per second (not per frame) so the filter copes with frames
    arriving at an uneven rate.
    """

    measurement_std: float = 0.05  # detector jitter of centre/size, in box heights
    centre_accel_std: float = 1.0  # centre acceleration, box heights per s^2
    size_accel_std: float = 0.25  # width/height change acceleration, box heights per s^2
    initial_velocity_std: float = 1.0  # prior on speed of a new object, box heights per s


def box_to_z(box: Box) -> Vector:
    """``(x1, y1, x2, y2)`` to the measurement ``(cx, cy, w, h)``."""
    x1, y1, x2, y2 = box
    return np.array([(x1 + x2) / 2.0, (y1 + y2) / 2.0, x2 - x1, y2 - y1], np.float64)


def z_to_box(z: Vector) -> Box:
    """``(cx, cy, w, h, ...)`` to ``(x1, y1, x2, y2)``; sizes clamp at zero."""
    cx, cy = float(z[0]), float(z[1])
    w, h = max(float(z[2]), 0.0), max(float(z[3]), 0.0)
    return (cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0)


class BoxKalman:
    """State ``(cx, cy, w, h, vx, vy, vw, vh)`` with a white-noise-acceleration model."""

    def __init__(self, box: Box, params: KalmanParams) -> None:
        self.params = params
        z = box_to_z(box)
        self.x: Vector = np.concatenate([z, np.zeros(4)])
        scale = self._scale()
        pos_var = (2.0 * params.measurement_std * scale) ** 2
        vel_var = (params.initial_velocity_std * scale) ** 2
        self.P: Matrix = np.diag([pos_var] * 4 + [vel_var] * 4)

    def _scale(self) -> float:
        # Floor at one pixel so a degenerate zero-height box never yields zero noise (and a
        # singular innovation covariance).
        return max(float(self.x[3]), 1.0)

    @property
    def box(self) -> Box:
        """Current estimate as an xyxy box."""
        return z_to_box(self.x)

    @property
    def velocity(self) -> tuple[float, float]:
        """Estimated centre velocity in pixels per second."""
        return float(self.x[4]), float(self.x[5])

    def predict(self, dt: float) -> None:
        """Advance the state by ``dt`` seconds (``dt == 0`` leaves it unchanged)."""
        if dt < 0:
            raise ValueError(f"cannot predict backwards in time (dt={dt})")
        if dt == 0:
            return
        f = np.eye(8)
        f[:4, 4:] = np.eye(4) * dt
        scale = self._scale()
        q = np.zeros((8, 8))
        for i, std in enumerate(
            [self.params.centre_accel_std] * 2 + [self.params.size_accel_std] * 2
        ):
            var = (std * scale) ** 2
            # Discretised white-noise acceleration: the position/velocity pair of one axis.
            q[i, i] = var * dt**4 / 4.0
            q[i, i + 4] = q[i + 4, i] = var * dt**3 / 2.0
            q[i + 4, i + 4] = var * dt**2
        self.x = f @ self.x
        # Shrinking boxes must not turn inside out while coasting.
        self.x[2] = max(self.x[2], 1.0)
        self.x[3] = max(self.x[3], 1.0)
        self.P = f @ self.P @ f.T + q

    def gating_distance(self, boxes: Matrix) -> Vector:
        """Squared Mahalanobis distance of each xyxy box in ``boxes`` (N,4) from the estimate.

        Uses the innovation covariance, so the gate widens with the filter's uncertainty (a
        young track with an unknown velocity, or one coasting through an occlusion).
        """
        if boxes.shape[0] == 0:
            return np.zeros((0,), np.float64)
        z = np.stack(
            [
                (boxes[:, 0] + boxes[:, 2]) / 2.0,
                (boxes[:, 1] + boxes[:, 3]) / 2.0,
                boxes[:, 2] - boxes[:, 0],
                boxes[:, 3] - boxes[:, 1],
            ],
            axis=1,
        )
        r = np.eye(4) * (self.params.measurement_std * self._scale()) ** 2
        s = _H @ self.P @ _H.T + r
        d = z - (_H @ self.x)[None, :]
        sol = np.linalg.solve(s, d.T)
        return np.asarray(np.einsum("ij,ji->i", d, sol), np.float64)

    def update(self, box: Box) -> None:
        """Fold in one measured box."""
        z = box_to_z(box)
        r = np.eye(4) * (self.params.measurement_std * max(float(z[3]), 1.0)) ** 2
        s = _H @ self.P @ _H.T + r
        # K = P H^T S^-1, via solve rather than an explicit inverse for stability.
        k = np.linalg.solve(s, _H @ self.P).T
        self.x = self.x + k @ (z - _H @ self.x)
        i_kh = np.eye(8) - k @ _H
        # Joseph form keeps P symmetric positive semi-definite despite rounding.
        self.P = i_kh @ self.P @ i_kh.T + k @ r @ k.T
