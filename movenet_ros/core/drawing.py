# SPDX-License-Identifier: Apache-2.0
"""Draw poses on an image: the one renderer for the CLI's output and the node's annotated image.

Colours follow the person's sides so a left/right swap is visible at a glance: left limbs
orange, right limbs blue, centre (head, shoulder and hip lines) green. Colours are given in
RGB and swapped for BGR images. What is drawn, in which colour and how thick, is decided in
:mod:`movenet_ros.core.overlay`, which the markers and image markers share.
"""

from __future__ import annotations

import cv2
import numpy as np

from movenet_ros.core.keypoints import Side
from movenet_ros.core.overlay import SIDE_COLOURS_RGB, skeleton, stroke_sizes
from movenet_ros.core.results import Pose

__all__ = ['BOX_COLOUR_RGB', 'SIDE_COLOURS_RGB', 'bgr_canvas', 'draw_poses']
BOX_COLOUR_RGB = (255, 255, 255)
_SHIFT = 4  # sub-pixel precision of cv2 drawing (1/16 px)


def _colour(side: Side, channel_order: str) -> tuple[int, int, int]:
    r, g, b = SIDE_COLOURS_RGB[side]
    return (b, g, r) if channel_order == 'bgr' else (r, g, b)


def _fixed(x: float, y: float) -> tuple[int, int]:
    return round(x * (1 << _SHIFT)), round(y * (1 << _SHIFT))


def draw_poses(image: np.ndarray, poses: list[Pose], keypoint_threshold: float,
               channel_order: str = 'bgr', draw_boxes: bool = True) -> np.ndarray:
    """Draw ``poses`` onto ``image`` in place (HxWx3 uint8) and return it.

    Only keypoints at or above ``keypoint_threshold`` are drawn, and a bone only when both
    its ends are. Line widths scale with the image (``overlay.stroke_sizes``).
    """
    h, w = image.shape[:2]
    thickness, radius = stroke_sizes((w, h))
    for pose in poses:
        if draw_boxes and any(pose.box):
            x0, y0, x1, y1 = pose.box
            box_colour = BOX_COLOUR_RGB[::-1] if channel_order == 'bgr' else BOX_COLOUR_RGB
            cv2.rectangle(image, _fixed(x0, y0), _fixed(x1, y1), box_colour, thickness,
                          cv2.LINE_AA, _SHIFT)
            label = f'#{pose.id} {pose.score:.2f}' if pose.id >= 0 else f'{pose.score:.2f}'
            # Above the box, or just inside it when the box touches the image top.
            text_h = round(12 * thickness)
            y_text = round(y0) - 2 * thickness if y0 > text_h else round(y0) + text_h
            cv2.putText(image, label, (round(x0) + thickness, y_text),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.4 * thickness, box_colour, thickness,
                        cv2.LINE_AA)
        shown = skeleton(pose, keypoint_threshold)
        for (a, b), side in zip(shown.bones.reshape(-1, 2, 2).tolist(), shown.bone_sides[::2],
                                strict=True):
            cv2.line(image, _fixed(*a), _fixed(*b), _colour(side, channel_order),
                     thickness + 1, cv2.LINE_AA, _SHIFT)
        for xy, side in zip(shown.keypoints.tolist(), shown.keypoint_sides, strict=True):
            cv2.circle(image, _fixed(*xy), radius << _SHIFT, _colour(side, channel_order), -1,
                       cv2.LINE_AA, _SHIFT)
    return image


def bgr_canvas(image: np.ndarray, channel_order: str) -> np.ndarray:
    """A new HxWx3 BGR copy of a decoded frame (grey HxW or HxWx1, RGB(A) or BGR(A) in
    ``channel_order``), to draw on and write to a video file."""
    if image.ndim == 2 or image.shape[2] == 1:
        return cv2.cvtColor(image.reshape(image.shape[:2]), cv2.COLOR_GRAY2BGR)
    if channel_order == 'rgb':
        return cv2.cvtColor(image[..., :3], cv2.COLOR_RGB2BGR)
    return image[..., :3].copy()
