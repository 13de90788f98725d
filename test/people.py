# SPDX-License-Identifier: Apache-2.0
"""A drawn person the overlay tests share: exact keypoint positions, easy to reason about."""

from __future__ import annotations

# A person facing the camera: their left side is on the image's right (pixels).
FACING_CAMERA_XY = {
    'nose': (400, 100), 'left_eye': (420, 90), 'right_eye': (380, 90),
    'left_ear': (440, 100), 'right_ear': (360, 100),
    'left_shoulder': (500, 200), 'right_shoulder': (300, 200),
    'left_elbow': (600, 300), 'right_elbow': (200, 300),
    'left_wrist': (600, 450), 'right_wrist': (200, 450),
    'left_hip': (460, 450), 'right_hip': (340, 450),
    'left_knee': (470, 600), 'right_knee': (330, 600),
    'left_ankle': (470, 750), 'right_ankle': (330, 750),
}
