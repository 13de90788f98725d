# SPDX-License-Identifier: Apache-2.0
"""The pose renderer: side colours, the keypoint threshold, and BGR/RGB channel order.

A swapped left/right colour or channel order is exactly the mistake an overlay exists to
reveal, so these tests read pixel colours back instead of only checking that drawing ran.
"""

from __future__ import annotations

import numpy as np
from people import FACING_CAMERA_XY
import pytest

from movenet_ros.core.drawing import BOX_COLOUR_RGB, SIDE_COLOURS_RGB, draw_poses
from movenet_ros.core.keypoints import KEYPOINT_INDEX, Side
from movenet_ros.core.results import Pose

SIZE = 800  # lines are 3 px wide and keypoint dots have a 3 px radius at this size
THRESHOLD = 0.3

XY = FACING_CAMERA_XY  # their left side is on the image's right
BOX = (150.0, 50.0, 650.0, 780.0)


def _pose(low_score: tuple[str, ...] = ()) -> Pose:
    keypoints = np.zeros((17, 3))
    for name, (x, y) in XY.items():
        keypoints[KEYPOINT_INDEX[name]] = (x, y, 0.1 if name in low_score else 0.9)
    return Pose(keypoints=keypoints, score=0.9, box=BOX)


def _draw(pose: Pose, channel_order: str = 'bgr', draw_boxes: bool = False) -> np.ndarray:
    image = np.zeros((SIZE, SIZE, 3), dtype=np.uint8)
    out = draw_poses(image, [pose], THRESHOLD, channel_order=channel_order,
                     draw_boxes=draw_boxes)
    assert out is image  # drawn in place
    return image


def _midpoint(a: str, b: str) -> tuple[int, int]:
    (xa, ya), (xb, yb) = XY[a], XY[b]
    return (xa + xb) // 2, (ya + yb) // 2


def _expected(side: Side, channel_order: str) -> np.ndarray:
    rgb = np.array(SIDE_COLOURS_RGB[side])
    return rgb[::-1] if channel_order == 'bgr' else rgb


def _assert_colour(image: np.ndarray, xy: tuple[int, int], side: Side, channel_order: str):
    """The pixel at ``xy`` has ``side``'s colour, and is nearer to it than to any other."""
    pixel = image[xy[1], xy[0]].astype(int)
    distances = {s: np.abs(pixel - _expected(s, channel_order)).sum() for s in Side}
    assert min(distances, key=distances.get) is side, (xy, pixel.tolist(), distances)
    # Anti-aliasing may soften a diagonal line's centre a little, never by much.
    assert distances[side] <= 30, (xy, pixel.tolist())


BONES = [
    ('left_shoulder', 'left_elbow', Side.LEFT),
    ('left_elbow', 'left_wrist', Side.LEFT),
    ('left_hip', 'left_knee', Side.LEFT),
    ('left_knee', 'left_ankle', Side.LEFT),
    ('right_shoulder', 'right_elbow', Side.RIGHT),
    ('right_elbow', 'right_wrist', Side.RIGHT),
    ('right_hip', 'right_knee', Side.RIGHT),
    ('right_knee', 'right_ankle', Side.RIGHT),
    ('left_shoulder', 'right_shoulder', Side.CENTRE),
    ('left_hip', 'right_hip', Side.CENTRE),
]


@pytest.mark.parametrize('channel_order', ['bgr', 'rgb'])
def test_bones_have_their_side_colour(channel_order):
    image = _draw(_pose(), channel_order)
    for a, b, side in BONES:
        _assert_colour(image, _midpoint(a, b), side, channel_order)


@pytest.mark.parametrize('channel_order', ['bgr', 'rgb'])
def test_keypoints_have_their_side_colour(channel_order):
    image = _draw(_pose(), channel_order)
    for name, side in [('nose', Side.CENTRE), ('left_elbow', Side.LEFT),
                       ('left_ankle', Side.LEFT), ('right_elbow', Side.RIGHT),
                       ('right_ankle', Side.RIGHT)]:
        _assert_colour(image, XY[name], side, channel_order)


def test_bgr_is_rgb_with_channels_swapped():
    bgr = _draw(_pose(), 'bgr', draw_boxes=True)
    rgb = _draw(_pose(), 'rgb', draw_boxes=True)
    assert bgr.any()
    np.testing.assert_array_equal(bgr, rgb[..., ::-1])
    # Concretely: the left forearm is orange, (B, G, R) = (0, 140, 255) in a BGR image.
    x, y = _midpoint('left_elbow', 'left_wrist')
    assert bgr[y, x].tolist() == [0, 140, 255]
    assert rgb[y, x].tolist() == [255, 140, 0]


def _patch(image: np.ndarray, xy: tuple[int, int], half: int = 8) -> np.ndarray:
    x, y = xy
    return image[y - half:y + half + 1, x - half:x + half + 1]


def test_keypoints_below_threshold_are_not_drawn():
    image = _draw(_pose(low_score=('left_wrist', 'right_knee')))
    # The weak keypoints themselves: nothing around them.
    assert not _patch(image, XY['left_wrist']).any()
    assert not _patch(image, XY['right_knee']).any()
    # Nor any bone ending at them (both ends must be visible).
    for a, b in [('left_elbow', 'left_wrist'), ('right_hip', 'right_knee'),
                 ('right_knee', 'right_ankle')]:
        assert not _patch(image, _midpoint(a, b), half=3).any(), (a, b)
    # Their confident neighbours still are.
    assert _patch(image, XY['left_elbow'], half=1).any()
    assert _patch(image, XY['right_ankle'], half=1).any()
    _assert_colour(image, _midpoint('left_shoulder', 'left_elbow'), Side.LEFT, 'bgr')


def test_threshold_is_inclusive():
    """A keypoint exactly at the threshold is drawn (Pose.visible uses >=, so must drawing)."""
    pose = _pose()
    pose.keypoints[KEYPOINT_INDEX['left_wrist'], 2] = THRESHOLD
    image = _draw(pose)
    _assert_colour(image, XY['left_wrist'], Side.LEFT, 'bgr')


def test_box_drawn_only_when_asked():
    with_box = _draw(_pose(), draw_boxes=True)
    without = _draw(_pose(), draw_boxes=False)
    x0, y0, x1, y1 = (round(v) for v in BOX)
    white = list(BOX_COLOUR_RGB)
    for x, y in [((x0 + x1) // 2, y0), ((x0 + x1) // 2, y1), (x0, (y0 + y1) // 2),
                 (x1, (y0 + y1) // 2)]:
        assert with_box[y, x].tolist() == white, (x, y)
        assert not without[y, x].any(), (x, y)


def test_no_poses_leaves_image_untouched():
    image = np.full((SIZE, SIZE, 3), 7, dtype=np.uint8)
    draw_poses(image, [], THRESHOLD)
    assert (image == 7).all()
