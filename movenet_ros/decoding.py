# SPDX-License-Identifier: Apache-2.0
"""Turn raw MoveNet outputs into :class:`~movenet_ros.results.Pose` objects in source pixels.

Single-pose output is ``[1, 1, 17, 3]``: per keypoint (y, x, score), normalized to the model
input. MultiPose output is ``[1, N, 56]`` (N = 6): 17 x (y, x, score), then the person's box
(ymin, xmin, ymax, xmax) normalized to the input, then the person's score.
"""

from __future__ import annotations

import numpy as np

from movenet_ros.geometry import Region
from movenet_ros.keypoints import NUM_KEYPOINTS
from movenet_ros.results import Pose

_EMPTY_BOX = (0.0, 0.0, 0.0, 0.0)


def _keypoints_to_source(yx_score: np.ndarray, region: Region) -> np.ndarray:
    """(..., 17, 3) normalized (y, x, score) -> (..., 17, 3) source-pixel (x, y, score)."""
    out = np.empty(yx_score.shape, dtype=np.float64)
    out[..., :2] = region.to_source_pixels(yx_score[..., 1::-1])
    out[..., 2] = yx_score[..., 2]
    return out


def keypoint_box(keypoints: np.ndarray, visible: np.ndarray) -> tuple[float, float, float, float]:
    """Tight box (x_min, y_min, x_max, y_max) around the visible keypoints, zeros if none."""
    if not visible.any():
        return _EMPTY_BOX
    xy = keypoints[visible, :2]
    x_min, y_min = xy.min(axis=0)
    x_max, y_max = xy.max(axis=0)
    return float(x_min), float(y_min), float(x_max), float(y_max)


def decode_singlepose(output: np.ndarray, region: Region,
                      keypoint_threshold: float) -> Pose:
    """The pose a single-pose model outputs (it always outputs one, person or not).

    Pose score: the mean score of all 17 keypoints, so a lone confident keypoint on
    background clutter does not make a person (see :func:`is_person`).
    """
    keypoints = _keypoints_to_source(output.reshape(NUM_KEYPOINTS, 3), region)
    visible = keypoints[:, 2] >= keypoint_threshold
    return Pose(keypoints=keypoints, score=float(keypoints[:, 2].mean()),
                box=keypoint_box(keypoints, visible))


def is_person(pose: Pose, keypoint_threshold: float, min_pose_score: float) -> bool:
    """Whether a single-pose output is reported: pose score at least ``min_pose_score`` and
    at least one keypoint at or above ``keypoint_threshold``."""
    return pose.score >= min_pose_score and bool(pose.visible(keypoint_threshold).any())


def decode_multipose(output: np.ndarray, region: Region, min_pose_score: float,
                     max_people: int) -> list[Pose]:
    """The people a MultiPose model found with a score of at least ``min_pose_score``,
    best first, at most ``max_people``. Pose score and box are the model's own."""
    rows = output.reshape(-1, 56)
    scores = rows[:, 55]
    order = [i for i in np.argsort(-scores, kind='stable') if scores[i] >= min_pose_score]
    poses = []
    for i in order[:max_people]:
        keypoints = _keypoints_to_source(rows[i, :51].reshape(NUM_KEYPOINTS, 3), region)
        corners = region.to_source_pixels(rows[i, [52, 51, 54, 53]].reshape(2, 2))
        box = (float(corners[0, 0]), float(corners[0, 1]), float(corners[1, 0]),
               float(corners[1, 1]))
        poses.append(Pose(keypoints=keypoints, score=float(scores[i]), box=box))
    return poses
