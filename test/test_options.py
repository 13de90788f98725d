# SPDX-License-Identifier: Apache-2.0
"""Range, and the core refusing what the CLI and the node refuse, in the same words."""

from __future__ import annotations

import math

import pytest

from movenet_ros.core.estimator import MAX_PEOPLE_RANGE, PoseEstimator
from movenet_ros.core.geometry import MULTIPOSE_MAX_SIDE_RANGE
from movenet_ros.core.model import NUM_THREADS_RANGE, MoveNetModel
from movenet_ros.core.options import SCORE_RANGE, Range


@pytest.mark.parametrize(('allowed', 'inside', 'outside', 'words'), [
    (SCORE_RANGE, [0, 0.0, 0.3, 1], [-0.01, 1.01, math.nan, math.inf, True, '0.5', None],
     'a number from 0 to 1'),
    (MAX_PEOPLE_RANGE, [1, 6], [0, 7, 2.0, False], 'an integer from 1 to 6'),
    (MULTIPOSE_MAX_SIDE_RANGE, [128, 256, 640, 1024], [96, 250, 1056, 256.0],
     'a multiple of 32 from 128 to 1024'),
    (NUM_THREADS_RANGE, [1, 64], [0, 65], 'an integer from 1 to 64'),
])
def test_range_contains_and_says_what_it_allows(allowed, inside, outside, words):
    assert all(allowed.contains(v) for v in inside)
    assert not any(allowed.contains(v) for v in outside)
    assert allowed.describe() == words
    allowed.check('x', inside[0])
    with pytest.raises(ValueError) as info:
        allowed.check('x', outside[0])
    assert str(info.value) == f'x must be {words}, got {outside[0]!r}'


@pytest.mark.parametrize('bounds', [(1.0, 0.0), (0.0, 1.0, 2), (100, 1000, 32)])
def test_impossible_ranges_are_refused(bounds):
    with pytest.raises(ValueError):
        Range(*bounds)


@pytest.mark.parametrize(('make', 'message'), [
    (lambda: MoveNetModel('multipose', multipose_max_side=250),
     'multipose_max_side must be a multiple of 32 from 128 to 1024, got 250'),
    (lambda: MoveNetModel('lightning', num_threads=0),
     'num_threads must be an integer from 1 to 64, got 0'),
    (lambda: PoseEstimator(MoveNetModel('multipose'), max_people=7),
     'max_people must be an integer from 1 to 6, got 7'),
    (lambda: PoseEstimator(MoveNetModel('lightning'), min_pose_score=-0.1),
     'min_pose_score must be a number from 0 to 1, got -0.1'),
])
def test_the_core_refuses_out_of_range_options(make, message):
    with pytest.raises(ValueError) as info:
        make()
    assert str(info.value) == message
