# SPDX-License-Identifier: Apache-2.0
"""Synthetic people with exactly known keypoints, for the tracking and temporal tests."""

from __future__ import annotations

import numpy as np

from movenet_ros.core.results import Pose

# A standing person 1.0 unit tall, keypoints in MoveNet order, (x, y) around the hip centre.
_FIGURE = np.array([
    (0.0, -0.45), (-0.02, -0.47), (0.02, -0.47), (-0.05, -0.46), (0.05, -0.46),   # head
    (-0.1, -0.32), (0.1, -0.32), (-0.14, -0.16), (0.14, -0.16),                    # arms
    (-0.15, -0.02), (0.15, -0.02), (-0.06, 0.0), (0.06, 0.0),                      # hips
    (-0.07, 0.24), (0.07, 0.24), (-0.07, 0.48), (0.07, 0.48),                      # legs
])


def person(cx: float, cy: float, height: float = 400.0, score: float = 0.8,
           kp_score: float = 0.9) -> Pose:
    keypoints = np.empty((17, 3))
    keypoints[:, :2] = _FIGURE * height + (cx, cy)
    keypoints[:, 2] = kp_score
    lo, hi = keypoints[:, :2].min(axis=0), keypoints[:, :2].max(axis=0)
    return Pose(keypoints=keypoints, score=score, box=(lo[0], lo[1], hi[0], hi[1]))


def ids(poses: list[Pose]) -> list[int]:
    return [p.id for p in poses]
