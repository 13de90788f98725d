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
class Pose:
    """One person.

    ``keypoints`` is a (17, 3) float array of (x, y, score) per keypoint in MoveNet order, x
    and y in source-image pixels (centre of the top-left pixel at (0, 0)). A keypoint outside
    the image keeps the model's position and has score 0. ``box`` is (x_min, y_min, x_max,
    y_max) in the same pixels, inside the image.
    """

    keypoints: np.ndarray
    score: float
    box: tuple[float, float, float, float]
    id: int = UNTRACKED

    def visible(self, threshold: float) -> np.ndarray:
        """Boolean mask of the keypoints whose score reaches ``threshold``."""
        return visible_mask(self.keypoints[:, 2], threshold)

    def normalized(self, image_wh: tuple[int, int]) -> np.ndarray:
        """Keypoints as (x, y) in [0, 1] of the source image (continuous coordinates)."""
        w, h = image_wh
        return (self.keypoints[:, :2] + 0.5) / np.array([w, h], dtype=np.float64)

    def to_dict(self) -> dict:
        """JSON-ready form: id, score, box and 17 named {x, y, score} keypoints."""
        return {
            'id': self.id,
            'score': round(float(self.score), 4),
            'box': [round(float(v), 2) for v in self.box],
            'keypoints': [
                {'name': name, 'x': round(float(x), 2), 'y': round(float(y), 2),
                 'score': round(float(s), 4)}
                for name, (x, y, s) in zip(KEYPOINT_NAMES, self.keypoints, strict=True)
            ],
        }


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
