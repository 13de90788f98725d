# SPDX-License-Identifier: Apache-2.0
"""Keypoints outside the image, on real footage: crops of the demo video where the walking
woman's limbs leave the frame, portrait and landscape. The model places them past the edge
with confident scores; the rule keeps the position and makes the score 0, so they never count
as seen, whichever model or consumer."""

from __future__ import annotations

import cv2
from footage import OUTSIDE_CROPS, outside, outside_crop, read_frames
import numpy as np
import pytest

from movenet_ros.core.drawing import draw_poses
from movenet_ros.core.estimator import PoseEstimator
from movenet_ros.core.geometry import letterbox_region, warp_to_input
from movenet_ros.core.model import MoveNetModel
from movenet_ros.core.results import Pose

THRESHOLD = 0.3
CASES = OUTSIDE_CROPS


@pytest.fixture(scope='module')
def video_frames(demo_video) -> dict[int, np.ndarray]:
    return read_frames(demo_video, {index for _, index, _ in CASES.values()})


def raw_scores(model: MoveNetModel, image: np.ndarray) -> np.ndarray:
    """The model's own keypoint scores on the letterboxed image, before any rule: (P, 17)."""
    input_hw = model.input_size(image.shape[:2])
    sample = warp_to_input(image, letterbox_region(image.shape[:2], input_hw), input_hw)
    output = model.run(cv2.cvtColor(sample, cv2.COLOR_BGR2RGB))
    rows = output.reshape(-1, 56)[:, :51] if output.shape[-1] == 56 else output
    return rows.reshape(-1, 17, 3)[:, :, 2]


@pytest.mark.parametrize('case', CASES)
def test_a_keypoint_outside_the_image_keeps_its_position_and_scores_zero(video_frames, case):
    name, image = outside_crop(video_frames, case)
    model = MoveNetModel(name)
    result = PoseEstimator(model, crop_tracking=False).estimate(image, channel_order='bgr')
    assert result.poses, 'the woman is in the crop'
    raw = raw_scores(model, image)
    h, w = image.shape[:2]
    found = 0
    for pose in result.poses:
        out = outside(pose.keypoints, image.shape[1::-1])
        assert (pose.keypoints[out, 2] == 0).all()
        assert not pose.visible(THRESHOLD)[out].any() and not pose.visible(0.0)[out].any()
        # Inside the image, the model's scores are published as they are.
        row = np.argmin(np.abs(raw[:, ~out] - pose.keypoints[~out, 2]).sum(axis=1))
        np.testing.assert_allclose(pose.keypoints[~out, 2], raw[row, ~out], rtol=1e-6)
        # The points outside are ones the model was confident about.
        found += int((raw[row, out] >= THRESHOLD).sum())
        x0, y0, x1, y1 = pose.box
        assert -0.5 <= x0 <= x1 <= w - 0.5 and -0.5 <= y0 <= y1 <= h - 0.5, pose.box
    assert found >= 1, 'the model put a confident keypoint outside this crop'


@pytest.mark.parametrize('case', CASES)
def test_nothing_is_drawn_for_keypoints_outside(video_frames, case):
    """Drawing with and without the keypoints outside gives the same picture, even at a
    threshold of 0 (at which every keypoint in the image is drawn)."""
    name, image = outside_crop(video_frames, case)
    poses = PoseEstimator(MoveNetModel(name), crop_tracking=False).estimate(
        image, channel_order='bgr').poses
    inside_only = []
    for pose in poses:
        keypoints = pose.keypoints.copy()
        # Far away: any drawing of them would show.
        keypoints[outside(keypoints, image.shape[1::-1]), :2] = -1e4
        inside_only.append(Pose(keypoints=keypoints, score=pose.score, box=pose.box))
    for threshold in (0.0, THRESHOLD):
        drawn = draw_poses(image.copy(), poses, threshold)
        assert np.array_equal(drawn, draw_poses(image.copy(), inside_only, threshold))
        assert not np.array_equal(drawn, image)


def test_a_score_of_zero_is_never_visible():
    from movenet_ros.core.results import visible_mask

    scores = np.array([0.0, 1e-6, 0.3, 1.0])
    np.testing.assert_array_equal(visible_mask(scores, 0.0), [False, True, True, True])
    np.testing.assert_array_equal(visible_mask(scores, 0.3), [False, False, True, True])
