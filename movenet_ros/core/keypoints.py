# SPDX-License-Identifier: Apache-2.0
"""The 17 COCO keypoints MoveNet predicts, in its output order, and the skeleton joining them.

"Left" and "right" are the person's own sides, as in COCO and the PersonPose message.
"""

from __future__ import annotations

from enum import Enum

KEYPOINT_NAMES: tuple[str, ...] = (
    'nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear',
    'left_shoulder', 'right_shoulder', 'left_elbow', 'right_elbow',
    'left_wrist', 'right_wrist', 'left_hip', 'right_hip',
    'left_knee', 'right_knee', 'left_ankle', 'right_ankle',
)
NUM_KEYPOINTS = len(KEYPOINT_NAMES)
# Keypoints scoring lower are treated as not seen (the threshold MoveNet's authors suggest).
DEFAULT_KEYPOINT_THRESHOLD = 0.3
KEYPOINT_INDEX: dict[str, int] = {name: i for i, name in enumerate(KEYPOINT_NAMES)}

NOSE = 0
LEFT_SHOULDER, RIGHT_SHOULDER = 5, 6
LEFT_HIP, RIGHT_HIP = 11, 12
LEFT_ANKLE, RIGHT_ANKLE = 15, 16
TORSO = (LEFT_SHOULDER, RIGHT_SHOULDER, LEFT_HIP, RIGHT_HIP)


class Side(Enum):
    """Which side of the body a keypoint or a bone belongs to (drives drawing colours)."""

    LEFT = 'left'
    RIGHT = 'right'
    CENTRE = 'centre'


def keypoint_side(index: int) -> Side:
    name = KEYPOINT_NAMES[index]
    if name.startswith('left_'):
        return Side.LEFT
    if name.startswith('right_'):
        return Side.RIGHT
    return Side.CENTRE


def _bone(a: str, b: str) -> tuple[int, int, Side]:
    sides = {keypoint_side(KEYPOINT_INDEX[a]), keypoint_side(KEYPOINT_INDEX[b])}
    side = sides.pop() if len(sides) == 1 else Side.CENTRE
    return KEYPOINT_INDEX[a], KEYPOINT_INDEX[b], side


# Bones of the skeleton as (keypoint index, keypoint index, side). A bone joining the two
# sides (shoulders, hips) or the head is CENTRE.
SKELETON: tuple[tuple[int, int, Side], ...] = tuple(_bone(a, b) for a, b in (
    ('nose', 'left_eye'), ('nose', 'right_eye'),
    ('left_eye', 'left_ear'), ('right_eye', 'right_ear'),
    ('left_shoulder', 'right_shoulder'),
    ('left_shoulder', 'left_elbow'), ('left_elbow', 'left_wrist'),
    ('right_shoulder', 'right_elbow'), ('right_elbow', 'right_wrist'),
    ('left_shoulder', 'left_hip'), ('right_shoulder', 'right_hip'),
    ('left_hip', 'right_hip'),
    ('left_hip', 'left_knee'), ('left_knee', 'left_ankle'),
    ('right_hip', 'right_knee'), ('right_knee', 'right_ankle'),
))
