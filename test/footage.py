# SPDX-License-Identifier: Apache-2.0
"""Frames and crops of the demo footage that tests share, and the image-bounds predicate."""

from __future__ import annotations

import pathlib

import cv2
import numpy as np

# (x_min, y_min, x_max, y_max) in source pixels, measured by hand on the frames.
PERSON_BOX = {
    (0, 'man'): (585, 75, 720, 455),      # standing upright, facing the camera
    (80, 'man'): (572, 95, 700, 455),     # still on the block, facing the camera
    (100, 'man'): (585, 75, 705, 455),    # turning to walk along the block (3/4 view)
    (80, 'woman'): (1100, 525, 1350, 930),   # walking leftwards, side view, mid-stride
    (100, 'woman'): (900, 520, 1150, 930),
    (120, 'woman'): (712, 512, 952, 928),
}
# Crops where the walking woman's limbs leave the frame: (model, frame index, (x0, y0, x1, y1)).
# Found by scanning crops of frames 60-180 with each model: the model's raw scores of the
# keypoints it places outside these crops are 0.43-0.71.
OUTSIDE_CROPS = {
    'landscape, hips below (thunder)': ('thunder', 90, (823, 446, 1423, 721)),
    'portrait, head past the left edge (thunder)': ('thunder', 120, (803, 471, 983, 969)),
    'portrait, knee past the left edge (lightning)': ('lightning', 60, (1366, 486, 1546, 974)),
    'landscape, wrist below (multipose)': ('multipose', 180, (0, 443, 500, 723)),
}


def who(frame: int, pose) -> str:
    """Which person of the demo clip ``pose`` (a core Pose) is, by position: checked by
    viewing the frames (see bench/tracking.py)."""
    x0, y0, x1, y1 = pose.box
    if frame < 185:
        return 'man' if (y0 + y1) / 2 < 520 else 'woman'
    return 'man' if (x0 + x1) / 2 > 900 else 'woman'


def read_frames(video: pathlib.Path, indices) -> dict[int, np.ndarray]:
    """The frames of ``video`` at ``indices`` (BGR), read in one pass."""
    wanted = set(indices)
    capture = cv2.VideoCapture(str(video))
    frames = {}
    for index in range(max(wanted) + 1):
        ok, frame = capture.read()
        assert ok, f'{video} ended before frame {index}'
        if index in wanted:
            frames[index] = frame
    capture.release()
    return frames


def outside_crop(frames: dict[int, np.ndarray], case: str) -> tuple[str, np.ndarray]:
    """(model name, contiguous crop) of an OUTSIDE_CROPS case."""
    model, index, (x0, y0, x1, y1) = OUTSIDE_CROPS[case]
    return model, np.ascontiguousarray(frames[index][y0:y1, x0:x1])


def outside(xy: np.ndarray, image_wh: tuple[int, int]) -> np.ndarray:
    """Which of the (N, 2+) pixel positions lie outside an image of ``image_wh``."""
    w, h = image_wh
    x, y = xy[:, 0], xy[:, 1]
    return (x < -0.5) | (x > w - 0.5) | (y < -0.5) | (y > h - 0.5)
