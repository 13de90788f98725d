# SPDX-License-Identifier: Apache-2.0
"""The pinhole camera of the markers: exact rescaling and projection, and every K refused that
would put markers at NaN, at infinity or on one line."""

from __future__ import annotations

import math

import numpy as np
import pytest

from movenet_ros.core.camera import MAX_FOCAL_PER_SIDE, MIN_FOCAL_PER_SIDE, Pinhole

K = [1500.0, 0.0, 880.0, 0.0, 1400.0, 500.0, 0.0, 0.0, 1.0]


def test_k_is_rescaled_to_the_image_with_pixel_centres():
    camera = Pinhole.from_k(K, (1768, 994), (884, 497))  # a half-size stream
    assert camera == Pinhole(fx=750.0, fy=700.0, cx=(880.5 * 0.5) - 0.5, cy=(500.5 * 0.5) - 0.5)
    assert Pinhole.from_k(K, (0, 0), (1768, 994)) == Pinhole(1500.0, 1400.0, 880.0, 500.0)


def test_points_lie_on_their_rays_at_the_depth():
    camera = Pinhole.from_k(K, (1768, 994), (1768, 994))
    xyz = camera.points_at_depth(np.array([[880.0, 500.0], [2380.0, -900.0]]), 2.0)
    np.testing.assert_array_equal(xyz, [[0.0, 0.0, 2.0], [2.0, -2.0, 2.0]])


def test_the_default_camera_has_the_assumed_field_of_view():
    camera = Pinhole.default((1768, 994))
    assert math.degrees(2 * math.atan(884 / camera.fx)) == pytest.approx(60.0)
    assert (camera.cx, camera.cy) == (883.5, 496.5)


def test_focal_lengths_at_the_limits_are_accepted():
    for per_side in (MIN_FOCAL_PER_SIDE, MAX_FOCAL_PER_SIDE):
        k = [per_side * 1000, 0, 500, 0, per_side * 800, 400, 0, 0, 1]
        camera = Pinhole.from_k(k, (1000, 800), (1000, 800))
        assert (camera.fx, camera.fy) == (per_side * 1000, per_side * 800)


@pytest.mark.parametrize(('changes', 'message'), [
    ({0: math.nan}, r'^fx = nan is not finite$'),
    ({4: math.inf}, r'^fy = inf is not finite$'),
    ({2: -math.inf}, r'^cx = -inf is not finite$'),
    ({5: math.nan}, r'^cy = nan is not finite$'),
    ({0: 0.0, 4: 0.0}, r'^focal length fx = 0 px is not within 0\.05-1000 times the image side '
                       r'of 1768 px$'),
    ({0: -1500.0}, r'focal length fx = -1500 px'),
    ({0: 1e-300}, r'focal length fx = 1e-300 px is not within'),
    ({4: 1e308}, r'focal length fy = 1e\+308 px is not within 0\.05-1000 times the image side '
                 r'of 994 px'),
    ({0: 1768 * 0.05 - 0.01}, r'focal length fx = 88\.39 px'),
    ({2: 1768 * 2 + 1.0}, r'^principal point cx = 3537 px is not within -1768\.\.3536 for an '
                          r'image side of 1768 px$'),
    ({5: -995.0}, r'principal point cy = -995 px is not within -994\.\.1988'),
])
def test_an_impossible_k_is_refused_with_the_value_and_the_reason(changes, message):
    k = list(K)
    for index, value in changes.items():
        k[index] = value
    with pytest.raises(ValueError, match=message):
        Pinhole.from_k(k, (1768, 994), (1768, 994))


def test_a_huge_k_that_overflows_when_rescaled_is_refused():
    k = [1e308, 0, 880, 0, 1e308, 500, 0, 0, 1]
    with pytest.raises(ValueError, match='fx = inf is not finite'):
        Pinhole.from_k(k, (884, 497), (1768, 994))  # x2 overflows to inf
