# SPDX-License-Identifier: Apache-2.0
"""The real RealSense RGB-D frames in test/data/rgbd (see its README) and their camera."""

from __future__ import annotations

import json
import pathlib

import cv2
import numpy as np

from movenet_ros.core.camera import Pinhole
from movenet_ros.core.results import Pose

RGBD = pathlib.Path(__file__).resolve().parent / 'data' / 'rgbd'
FRAMES = ('00035', '00044', '00049')
# The composite's seam (x ~ 352 px): the sitting man is left of it, the standing man right.
SEAM_X = 352.0


def camera_json() -> dict:
    return json.loads((RGBD / 'camera.json').read_text())


def colour_camera() -> Pinhole:
    info = camera_json()
    return Pinhole(info['fx'], info['fy'], info['cx'], info['cy'])


def colour(frame: str) -> np.ndarray:
    image = cv2.imread(str(RGBD / 'color' / f'{frame}.png'), cv2.IMREAD_COLOR)
    assert image is not None and image.shape == (480, 640, 3), frame
    return image


def depth_mm(frame: str) -> np.ndarray:
    depth = cv2.imread(str(RGBD / 'depth' / f'{frame}.png'), cv2.IMREAD_UNCHANGED)
    assert depth is not None and depth.dtype == np.uint16 and depth.shape == (480, 640), frame
    return depth


def by_side(poses: list[Pose]) -> dict[str, Pose]:
    """{'sitting': pose, 'standing': pose} by which side of the seam each person's nose is."""
    sides = {('standing' if pose.keypoints[0, 0] > SEAM_X else 'sitting'): pose
             for pose in poses}
    assert len(sides) == len(poses) == 2, [p.keypoints[0, :2] for p in poses]
    return sides
