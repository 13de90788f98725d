# SPDX-License-Identifier: Apache-2.0
"""Plain result types of the core: no ROS, no model internals, just source-image pixels."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from movenet_ros.core.keypoints import KEYPOINT_NAMES

UNTRACKED = -1


def visible_mask(scores: np.ndarray, threshold: float) -> np.ndarray:
    """Which keypoints count as seen, the one rule everything uses (boxes, drawing, markers,
    tracking, smoothing): a score at or above ``threshold``, and above 0, whatever the
    threshold, since a keypoint outside the image has score 0 (see decoding)."""
    return (scores >= threshold) & (scores > 0.0)


@dataclass
class Pose3D:
    """Where one person is in space, lifted from an aligned depth image (core/depth.py).

    Metres, in the source image's optical frame (REP-103: x right, y down, z forward).
    ``keypoints`` is (17, 3), ``valid`` (17,) bool: a keypoint below the threshold, outside
    the depth image or without a usable depth reading is not valid and its row is 0, never a
    guess. ``position`` is the torso centre on the body's surface, ``facing`` a unit vector
    along the direction the chest faces, perpendicular to the camera's y axis; each is None
    when it cannot be measured.
    """

    keypoints: np.ndarray
    valid: np.ndarray
    position: np.ndarray | None = None
    facing: np.ndarray | None = None

    def to_dict(self) -> dict:
        """JSON-ready position and facing (rounded to mm and 1e-4), None when unknown."""
        return {
            'position': None if self.position is None else _rounded(self.position, 3),
            'facing': None if self.facing is None else _rounded(self.facing, 4),
        }


def _rounded(values: np.ndarray, digits: int) -> list[float]:
    return [round(float(v), digits) for v in values]


@dataclass
class Pose:
    """One person.

    ``keypoints`` is a (17, 3) float array of (x, y, score) per keypoint in MoveNet order, x
    and y in source-image pixels (centre of the top-left pixel at (0, 0)). A keypoint outside
    the image keeps the model's position and has score 0. ``box`` is (x_min, y_min, x_max,
    y_max) in the same pixels, inside the image. ``pose3d`` is set once the pose was lifted
    with a depth image, None for a 2D-only pose.
    """

    keypoints: np.ndarray
    score: float
    box: tuple[float, float, float, float]
    id: int = UNTRACKED
    pose3d: Pose3D | None = None

    def visible(self, threshold: float) -> np.ndarray:
        """Boolean mask of the keypoints whose score reaches ``threshold``."""
        return visible_mask(self.keypoints[:, 2], threshold)

    def normalized(self, image_wh: tuple[int, int]) -> np.ndarray:
        """Keypoints as (x, y) in [0, 1] of the source image (continuous coordinates)."""
        w, h = image_wh
        return (self.keypoints[:, :2] + 0.5) / np.array([w, h], dtype=np.float64)

    def to_dict(self) -> dict:
        """JSON-ready form: id, score, box and 17 named {x, y, score} keypoints; with 3D, a
        keypoint with a valid position also has 'position' [x, y, z] in metres, and the
        person 'position' and 'facing' (None when unknown)."""
        keypoints = [
            {'name': name, 'x': round(float(x), 2), 'y': round(float(y), 2),
             'score': round(float(s), 4)}
            for name, (x, y, s) in zip(KEYPOINT_NAMES, self.keypoints, strict=True)
        ]
        out = {
            'id': self.id,
            'score': round(float(self.score), 4),
            'box': [round(float(v), 2) for v in self.box],
            'keypoints': keypoints,
        }
        if self.pose3d is not None:
            for keypoint, xyz, valid in zip(keypoints, self.pose3d.keypoints,
                                            self.pose3d.valid, strict=True):
                if valid:
                    keypoint['position'] = _rounded(xyz, 3)
            out.update(self.pose3d.to_dict())
        return out


@dataclass
class PoseResult:
    """All people found in one image, and how they were found."""

    poses: list[Pose]
    image_size: tuple[int, int]          # (width, height) of the source image
    model: str                           # e.g. 'singlepose_lightning'
    keypoint_threshold: float
    input_size: tuple[int, int]          # (height, width) the model ran at
    inference_ms: float = 0.0            # the model's invoke() alone
    timings_ms: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            'image_width': self.image_size[0],
            'image_height': self.image_size[1],
            'model': self.model,
            'keypoint_threshold': self.keypoint_threshold,
            'inference_ms': round(self.inference_ms, 3),
            'persons': [p.to_dict() for p in self.poses],
        }
