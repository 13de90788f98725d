# SPDX-License-Identifier: Apache-2.0
"""Single-pose crop tracking: where to look in the next video frame.

Single-pose MoveNet is most accurate when the person fills the input. On video, the next
frame's input is therefore a square crop around the person found in this frame: centred on
the hips, large enough for the torso (x1.9) and for every confident keypoint (x1.2). When the
torso is not seen, or the crop would be larger than the image, the model goes back to the
whole (letterboxed) image. Since single-pose models favour the person nearest the centre of
what they see, this also keeps the crop on that person once it has found them.
(The scheme follows the crop heuristic published with MoveNet's tutorial.)
"""

from __future__ import annotations

import numpy as np

from movenet_ros.core.geometry import Region
from movenet_ros.core.keypoints import LEFT_HIP, LEFT_SHOULDER, RIGHT_HIP, RIGHT_SHOULDER, TORSO

TORSO_MARGIN = 1.9
BODY_MARGIN = 1.2
# Keypoints used to place the crop must reach this score (lower than the display threshold:
# a slightly unsure hip still places the crop better than the whole image does).
MIN_CROP_KEYPOINT_SCORE = 0.2


def next_crop_region(keypoints: np.ndarray, image_hw: tuple[int, int],
                     min_score: float = MIN_CROP_KEYPOINT_SCORE) -> Region | None:
    """The square region to run the model on next, or None for the whole image.

    ``keypoints`` is (17, 3) source-pixel (x, y, score) from the current frame.
    """
    h, w = image_hw
    scores = keypoints[:, 2]
    hips_seen = scores[LEFT_HIP] >= min_score or scores[RIGHT_HIP] >= min_score
    shoulders_seen = scores[LEFT_SHOULDER] >= min_score or scores[RIGHT_SHOULDER] >= min_score
    if not (hips_seen and shoulders_seen):
        return None
    # Continuous coordinates: pixel centres sit at +0.5.
    xy = keypoints[:, :2] + 0.5
    centre = (xy[LEFT_HIP] + xy[RIGHT_HIP]) / 2.0
    torso = np.array(TORSO)
    torso_extent = np.abs(xy[torso] - centre).max()
    confident = scores >= min_score
    body_extent = np.abs(xy[confident] - centre).max()
    half = max(torso_extent * TORSO_MARGIN, body_extent * BODY_MARGIN)
    # Never farther than the farthest image edge from the centre.
    half = min(half, max(centre[0], w - centre[0], centre[1], h - centre[1]))
    if half <= 1.0 or half > max(h, w) / 2.0:
        return None
    return Region(x0=float(centre[0] - half), y0=float(centre[1] - half),
                  width=float(2 * half), height=float(2 * half))
