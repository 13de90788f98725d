# SPDX-License-Identifier: Apache-2.0
"""Lifting poses to 3D with real RealSense depth: metres where the depth and the intrinsics put
them, nothing where there is no depth, the same metres from 16UC1 and 32FC1, the nearer mode at
the body's edges, any registered depth resolution, and the facing direction."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from rgbd import FRAMES, by_side, colour, colour_camera, depth_mm

from movenet_ros.core.camera import Pinhole
from movenet_ros.core.depth import (
    MAX_TWIST_DEG,
    DepthError,
    DepthImage,
    DepthLifter,
    DepthRegistration,
    DepthSettings,
    alignment_problem,
    facing_direction,
    facing_quaternion,
)
from movenet_ros.core.estimator import PoseEstimator
from movenet_ros.core.keypoints import (
    KEYPOINT_INDEX,
    LEFT_HIP,
    LEFT_SHOULDER,
    NOSE,
    RIGHT_HIP,
    RIGHT_SHOULDER,
    TORSO,
)
from movenet_ros.core.model import MoveNetModel
from movenet_ros.core.results import Pose

THRESHOLD = 0.3
LEFT_EAR, LEFT_WRIST, LEFT_ANKLE = (KEYPOINT_INDEX[n] for n in
                                    ('left_ear', 'left_wrist', 'left_ankle'))
CAMERA = colour_camera()


@pytest.fixture(scope='module')
def detections() -> dict[str, list[Pose]]:
    """MultiPose on each real colour frame: both people, every time."""
    estimator = PoseEstimator(MoveNetModel('multipose'))
    found = {frame: estimator.estimate(colour(frame), 'bgr').poses for frame in FRAMES}
    for poses in found.values():
        by_side(poses)
    return found


def lift(poses, depth, **settings) -> dict[str, Pose]:
    image = depth if isinstance(depth, DepthImage) else DepthImage.from_millimetres(depth)
    return by_side(DepthLifter(DepthSettings(**settings)).lift(poses, image, CAMERA, THRESHOLD))


def flat_keypoints(pose: Pose, depth: np.ndarray) -> list[int]:
    """Seen keypoints whose 7x7 patch is one surface: readings within 4 cm (this depth is
    quantised in steps of about 8 mm at 2.2 m, and smoothed)."""
    flat = []
    for k, (x, y, score) in enumerate(pose.keypoints):
        u, v = round(x), round(y)
        patch = depth[max(v - 3, 0):v + 4, max(u - 3, 0):u + 4]
        readings = patch[patch > 0]
        if score >= THRESHOLD and readings.size > 40 and np.ptp(readings) <= 40:
            flat.append(k)
    return flat


def test_keypoints_land_where_depth_and_intrinsics_put_them(detections):
    """Each keypoint on one surface is at its own pixel's depth reading, on its own ray."""
    checked = 0
    for frame in FRAMES:
        depth = depth_mm(frame)
        for pose in lift(detections[frame], depth).values():
            for k in flat_keypoints(pose, depth):
                x, y = pose.keypoints[k, :2]
                z = depth[round(y), round(x)] / 1000.0
                expected = [(x - CAMERA.cx) / CAMERA.fx * z, (y - CAMERA.cy) / CAMERA.fy * z,
                            z]
                assert pose.pose3d.valid[k]
                np.testing.assert_allclose(pose.pose3d.keypoints[k], expected, atol=0.01)
                checked += 1
    assert checked >= 40, 'faces, hips and legs are single surfaces'


def test_person_position_is_the_torso_centre_at_its_depth(detections):
    depth = depth_mm('00035')
    for name, pose in lift(detections['00035'], depth).items():
        position = pose.pose3d.position
        centre = pose.keypoints[list(TORSO), :2].mean(axis=0)  # all four are seen here
        assert pose.visible(THRESHOLD)[list(TORSO)].all()
        reprojected = [CAMERA.fx * position[0] / position[2] + CAMERA.cx,
                       CAMERA.fy * position[1] / position[2] + CAMERA.cy]
        np.testing.assert_allclose(reprojected, centre, atol=1e-6)
        u, v = np.rint(centre).astype(int)
        chest = depth[v - 10:v + 11, u - 10:u + 11]
        assert position[2] == pytest.approx(np.median(chest[chest > 0]) / 1000.0, abs=0.01)
        assert position[2] == pytest.approx({'standing': 2.15, 'sitting': 2.38}[name], abs=0.05)


def test_people_have_human_sizes_in_metres(detections):
    """Units and intrinsics end to end: a mm/m mix-up or a wrong focal length would make
    these absurd."""
    standing = lift(detections['00035'], depth_mm('00035'))['standing'].pose3d
    shoulders = np.linalg.norm(standing.keypoints[LEFT_SHOULDER]
                               - standing.keypoints[RIGHT_SHOULDER])
    nose_to_ankle = standing.keypoints[LEFT_ANKLE, 1] - standing.keypoints[NOSE, 1]
    assert 0.25 < shoulders < 0.5
    assert 1.2 < nose_to_ankle < 1.7


def test_no_depth_means_not_valid_and_zero_never_a_guess(detections):
    poses = detections['00035']
    depth = depth_mm('00035')
    before = lift(poses, depth)
    standing = before['standing']
    u, v = np.rint(standing.keypoints[LEFT_WRIST, :2]).astype(int)
    holed = depth.copy()
    holed[v - 7:v + 8, u - 7:u + 8] = 0
    after = lift(poses, holed)
    lifted = after['standing'].pose3d
    assert before['standing'].pose3d.valid[LEFT_WRIST] and not lifted.valid[LEFT_WRIST]
    assert lifted.keypoints[LEFT_WRIST].tolist() == [0.0, 0.0, 0.0]
    others = np.arange(17) != LEFT_WRIST
    np.testing.assert_array_equal(lifted.keypoints[others],
                                  before['standing'].pose3d.keypoints[others])
    np.testing.assert_array_equal(after['sitting'].pose3d.keypoints,
                                  before['sitting'].pose3d.keypoints)

    u, v = np.rint(standing.keypoints[list(TORSO), :2].mean(axis=0)).astype(int)
    holed[v - 12:v + 13, u - 12:u + 13] = 0
    assert lift(poses, holed)['standing'].pose3d.position is None

    for pose in lift(poses, np.zeros_like(depth)).values():
        assert not pose.pose3d.valid.any() and not pose.pose3d.keypoints.any()
        assert pose.pose3d.position is None and pose.pose3d.facing is None
    assert DepthImage.from_millimetres(np.zeros_like(depth)).valid_fraction(0.3, 10.0) == 0.0
    assert DepthImage.from_millimetres(depth).valid_fraction(0.3, 10.0) > 0.95


def test_a_patch_needs_a_quarter_of_its_readings():
    depth = np.full((20, 20), 2000, np.uint16)
    lifter = DepthLifter(DepthSettings(patch_size=5))
    image = DepthImage.from_millimetres(depth)
    keep = np.zeros(25, bool)
    for kept, valid in ((7, True), (6, False)):  # ceil(25 / 4) = 7
        keep[:] = False
        keep[:kept] = True
        depth[8:13, 8:13] = np.where(keep.reshape(5, 5), 2000, 0)
        z = lifter.patch_depths(image, np.array([[10.0, 10.0]]))
        assert np.isfinite(z[0]) == valid
        if valid:
            assert z[0] == pytest.approx(2.0)


def test_16uc1_and_32fc1_give_the_same_metres(detections):
    millimetres = depth_mm('00049')
    metres = (millimetres / 1000.0).astype(np.float32)
    holes = np.flatnonzero(millimetres == 0)
    assert holes.size > 1000
    # REP-118's three ways of saying "no reading", plus an explicit 0.
    for index, value in enumerate((np.nan, np.inf, -np.inf, 0.0)):
        metres.flat[holes[index::4]] = value
    from_mm = DepthImage.from_millimetres(millimetres)
    from_m = DepthImage.from_metres(metres)
    np.testing.assert_allclose(from_mm.to_metres(), from_m.to_metres(), atol=1e-6)
    assert np.isnan(from_m.to_metres().flat[holes]).all()
    poses = detections['00049']
    for name, pose in lift(poses, from_mm).items():
        other = lift(poses, from_m)[name].pose3d
        np.testing.assert_array_equal(pose.pose3d.valid, other.valid)
        np.testing.assert_allclose(pose.pose3d.keypoints, other.keypoints, atol=1e-6)
        np.testing.assert_allclose(pose.pose3d.position, other.position, atol=1e-6)


def test_the_depth_range_bounds_what_counts_as_a_reading(detections):
    """The standing man's chest is at 2.15 m, the sitting man's at 2.38 m."""
    poses, depth = detections['00035'], depth_mm('00035')
    near_only = lift(poses, depth, max_range=2.3)
    far_only = lift(poses, depth, min_range=2.3)
    for lifted, ok in ((near_only, lambda z: z <= 2.3), (far_only, lambda z: z >= 2.3)):
        for pose in lifted.values():
            assert all(ok(z) for z in pose.pose3d.keypoints[pose.pose3d.valid, 2])
    assert near_only['sitting'].pose3d.position is None
    assert near_only['standing'].pose3d.position[2] == pytest.approx(2.15, abs=0.03)
    assert far_only['standing'].pose3d.position is None
    assert far_only['sitting'].pose3d.position[2] == pytest.approx(2.38, abs=0.03)


def test_the_nearer_mode_is_the_body_at_its_edges(detections):
    """Frame 49 (see core/depth.py): the standing man's left ear and his fast hand sit on the
    edge of his silhouette, the wall 0.7-1.3 m behind."""
    poses, depth = detections['00049'], depth_mm('00049')
    near = lift(poses, depth)['standing'].pose3d
    median = lift(poses, depth, edge_tolerance=100.0, max_torso_offset=100.0)['standing'].pose3d
    nose = near.keypoints[NOSE, 2]
    assert 0.0 < near.keypoints[LEFT_EAR, 2] - nose < 0.12        # an ear is ~0.1 m back
    assert median.keypoints[LEFT_EAR, 2] - nose > 0.15
    torso = near.position[2]
    assert abs(near.keypoints[LEFT_WRIST, 2] - torso) < 0.2
    assert median.keypoints[LEFT_WRIST, 2] - torso > 0.4


def test_a_keypoint_on_the_background_is_rejected_by_its_torso(detections):
    """Frame 44: the blurred hand is missing from the depth; its whole patch is the wall."""
    poses, depth = detections['00044'], depth_mm('00044')
    assert not lift(poses, depth)['standing'].pose3d.valid[LEFT_WRIST]
    unbounded = lift(poses, depth, max_torso_offset=100.0)['standing'].pose3d
    assert unbounded.valid[LEFT_WRIST] and unbounded.keypoints[LEFT_WRIST, 2] > 2.9


def test_a_step_edge_gives_the_near_side_exactly():
    depth = np.full((15, 15), 3000, np.uint16)
    depth[:, :7] = 1000  # columns 0-6 near; a 7x7 patch at column 7 holds 3 near, 4 far
    z = DepthLifter().patch_depths(DepthImage.from_millimetres(depth),
                                   np.array([[7.0, 7.0], [11.0, 7.0], [2.0, 7.0]]))
    np.testing.assert_allclose(z, [1.0, 3.0, 1.0], atol=1e-6)


def test_a_pixel_is_read_at_its_centre_convention():
    """Keypoint (0, 0) is the centre of the top-left pixel: (x, y) reads row round(y),
    column round(x)."""
    rows, cols = np.mgrid[0:40, 0:50]
    depth = (1000 + 10 * cols + 3 * rows).astype(np.uint16)
    lifter = DepthLifter(DepthSettings(patch_size=1))
    uv = np.array([[0.0, 0.0], [12.4, 30.6], [49.49, 39.4], [-0.4, 5.0], [-0.6, 5.0],
                   [49.6, 5.0]])
    z = lifter.patch_depths(DepthImage.from_millimetres(depth), uv)
    expected = [1.0, 1.0 + 0.12 + 0.093, 1.0 + 0.49 + 0.117, 1.015, np.nan, np.nan]
    np.testing.assert_allclose(z, expected, atol=1e-6)


@pytest.mark.parametrize('depth_camera', [
    Pinhole.from_k([617.25, 0, 317.3921, 0, 617.5486, 245.9802, 0, 0, 1], (640, 480),
                   (320, 240)),                                         # half size
    Pinhole(fx=300.0, fy=310.0, cx=212.0, cy=118.0),                    # other intrinsics
], ids=['half size', 'other intrinsics'])
def test_a_registered_depth_of_another_grid_gives_the_same_metres(detections, depth_camera):
    """A depth image on another pixel grid of the same (registered) camera, made by sampling
    the real one along each of its pixels' rays, lifts to the same points."""
    depth = depth_mm('00035')
    size = (424, 240) if depth_camera.fx == 300.0 else (320, 240)
    cols, rows = np.meshgrid(np.arange(size[0], dtype=np.float32),
                             np.arange(size[1], dtype=np.float32))
    map_u = (cols - depth_camera.cx) / depth_camera.fx * CAMERA.fx + CAMERA.cx
    map_v = (rows - depth_camera.cy) / depth_camera.fy * CAMERA.fy + CAMERA.cy
    other = cv2.remap(depth, map_u.astype(np.float32), map_v.astype(np.float32),
                      cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    registration = DepthRegistration.from_cameras(CAMERA, depth_camera)
    poses = detections['00035']
    reference = lift(poses, depth)
    lifted = by_side(DepthLifter(DepthSettings(patch_size=3)).lift(
        poses, DepthImage.from_millimetres(other), CAMERA, THRESHOLD, registration))
    for name, pose in reference.items():
        flat = flat_keypoints(pose, depth)
        assert len(flat) >= 5
        assert lifted[name].pose3d.valid[flat].all()
        np.testing.assert_allclose(lifted[name].pose3d.keypoints[flat],
                                   pose.pose3d.keypoints[flat], atol=0.01)


def test_registration_by_sizes_is_the_rescaled_camera():
    colour_cam = Pinhole(fx=900.0, fy=905.0, cx=641.3, cy=359.2)
    k = [900.0, 0, 641.3, 0, 905.0, 359.2, 0, 0, 1]
    for depth_wh in ((640, 360), (1280, 720), (848, 480)):
        by_cameras = DepthRegistration.from_cameras(
            colour_cam, Pinhole.from_k(k, (1280, 720), depth_wh))
        by_sizes = DepthRegistration.from_sizes((1280, 720), depth_wh)
        for name in ('scale_x', 'offset_x', 'scale_y', 'offset_y'):
            assert getattr(by_cameras, name) == pytest.approx(getattr(by_sizes, name),
                                                              abs=1e-9)
    np.testing.assert_allclose(
        DepthRegistration.from_sizes((1280, 720), (640, 360)).depth_pixels(
            np.array([[0.0, 0.0], [1279.0, 719.0], [-0.5, -0.5]])),
        [[-0.25, -0.25], [639.25, 359.25], [-0.5, -0.5]])


def test_real_people_facing_the_camera_face_it(detections):
    for pose in lift(detections['00035'], depth_mm('00035')).values():
        facing = pose.pose3d.facing
        assert facing is not None
        assert facing[1] == 0.0 and np.linalg.norm(facing) == pytest.approx(1.0)
        assert facing[2] < -0.8  # towards the camera, within 37 degrees


def person(yaw_deg: float, shoulder_yaw_deg: float | None = None, depth: float = 2.0,
           shoulders: float = 0.4, hips: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """Lifted keypoints of a person at ``depth`` whose chest faces ``yaw_deg`` (0: the
    camera, 90: the image's right); the shoulders may be turned to ``shoulder_yaw_deg``."""
    xyz = np.zeros((17, 3))
    valid = np.zeros(17, bool)
    for (left, right), width, yaw in (((LEFT_SHOULDER, RIGHT_SHOULDER), shoulders,
                                       yaw_deg if shoulder_yaw_deg is None
                                       else shoulder_yaw_deg),
                                      ((LEFT_HIP, RIGHT_HIP), hips, yaw_deg)):
        a = math.radians(yaw)
        # Facing the camera, the person's left is the image's right (+x).
        half = 0.5 * width * np.array([math.cos(a), 0.0, math.sin(a)])
        xyz[left] = np.array([0.0, 0.0, depth]) + half
        xyz[right] = np.array([0.0, 0.0, depth]) - half
        valid[[left, right]] = True
    return xyz, valid


@pytest.mark.parametrize('yaw', [0.0, 30.0, -75.0, 180.0, 120.0])
def test_facing_follows_the_body(yaw):
    facing = facing_direction(*person(yaw))
    a = math.radians(yaw)
    np.testing.assert_allclose(facing, [math.sin(a), 0.0, -math.cos(a)], atol=1e-12)


def test_facing_is_unknown_from_the_side_or_with_an_arm_across():
    # Seen from the side, the hidden shoulder's and hip's patches read the near ones.
    assert facing_direction(*person(80.0, shoulders=0.12, hips=0.08)) is None
    xyz, valid = person(10.0, shoulder_yaw_deg=10.0 + MAX_TWIST_DEG + 5)
    assert facing_direction(xyz, valid) is None
    xyz, valid = person(10.0, shoulder_yaw_deg=10.0 + MAX_TWIST_DEG - 5)
    np.testing.assert_allclose(facing_direction(xyz, valid),
                               [math.sin(math.radians(30)), 0, -math.cos(math.radians(30))])
    valid[[LEFT_HIP, RIGHT_HIP]] = False                    # the shoulders alone
    np.testing.assert_allclose(facing_direction(xyz, valid)[[0, 2]],
                               [math.sin(math.radians(50)), -math.cos(math.radians(50))])
    valid[RIGHT_SHOULDER] = False
    assert facing_direction(xyz, valid) is None
    assert facing_direction(*person(0.0, shoulders=0.9, hips=0.7)) is None


def rotate(q, v) -> np.ndarray:
    x, y, z, w = q
    u = np.array([x, y, z])
    return 2 * (u @ v) * u + (w * w - u @ u) * v + 2 * w * np.cross(u, v)


@pytest.mark.parametrize('yaw', [0.0, 45.0, 90.0, -90.0, 180.0, 179.0, -150.0])
def test_the_orientation_is_the_body_frame_facing_its_way(yaw):
    a = math.radians(yaw)
    facing = np.array([math.sin(a), 0.0, -math.cos(a)])
    q = facing_quaternion(facing)
    assert np.linalg.norm(q) == pytest.approx(1.0) and q[3] >= 0.0
    np.testing.assert_allclose(rotate(q, np.array([1.0, 0, 0])), facing, atol=1e-12)
    np.testing.assert_allclose(rotate(q, np.array([0, 0, 1.0])), [0, -1, 0], atol=1e-12)
    left = rotate(q, np.array([0, 1.0, 0]))
    np.testing.assert_allclose(left, np.cross([0, -1, 0], facing), atol=1e-12)
    if yaw == 0.0:  # facing the camera, the person's left is the image's right
        np.testing.assert_allclose(left, [1, 0, 0], atol=1e-12)
    assert facing_quaternion(None) == (0.0, 0.0, 0.0, 1.0)


def test_lifting_keeps_the_2d_pose_and_copes_with_nobody(detections):
    poses = detections['00035']
    originals = [p.keypoints.copy() for p in poses]
    lifted = DepthLifter().lift(poses, DepthImage.from_millimetres(depth_mm('00035')),
                                CAMERA, THRESHOLD)
    for pose, before, after in zip(poses, originals, lifted, strict=True):
        assert pose.pose3d is None
        np.testing.assert_array_equal(pose.keypoints, before)
        assert after.keypoints is pose.keypoints and (after.score, after.box, after.id) == (
            pose.score, pose.box, pose.id)
    assert DepthLifter().lift([], DepthImage.from_millimetres(depth_mm('00035')), CAMERA,
                              THRESHOLD) == []


def test_keypoints_below_the_threshold_or_outside_get_no_position():
    depth = DepthImage.from_millimetres(np.full((48, 64), 1500, np.uint16))
    keypoints = np.zeros((17, 3))
    keypoints[:, :2] = (30.0, 20.0)
    keypoints[:, 2] = 0.9
    keypoints[0, 2] = 0.29                      # below the threshold
    keypoints[1] = (-20.0, 20.0, 0.9)           # outside the depth image
    keypoints[2] = (np.nan, 20.0, 0.9)          # a broken coordinate
    keypoints[3] = (1e12, -1e12, 0.9)
    lifted = DepthLifter().lift([Pose(keypoints, 0.9, (0, 0, 0, 0))], depth,
                                Pinhole.default((64, 48)), THRESHOLD)[0].pose3d
    assert lifted.valid.tolist() == [False] * 4 + [True] * 13
    assert np.isfinite(lifted.keypoints).all()
    np.testing.assert_allclose(lifted.keypoints[4:, 2], 1.5)


def test_pose_to_dict_carries_the_3d_fields(detections):
    standing = lift(detections['00035'], depth_mm('00035'))['standing']
    out = standing.to_dict()
    assert out['position'] == [round(float(v), 3) for v in standing.pose3d.position]
    assert out['facing'] == [round(float(v), 4) for v in standing.pose3d.facing]
    assert out['keypoints'][NOSE]['position'] == [
        round(float(v), 3) for v in standing.pose3d.keypoints[NOSE]]
    assert 'position' not in detections['00035'][0].to_dict()


@pytest.mark.parametrize(('settings', 'message'), [
    ({'patch_size': 4}, r'^patch_size must be odd \(a patch centred on its pixel\), got 4$'),
    ({'patch_size': 0}, r'^patch_size must be an integer from 1 to 31, got 0$'),
    ({'patch_size': 33}, r'got 33'),
    ({'patch_size': 7.0}, r'patch_size must be an integer from 1 to 31, got 7\.0'),
    ({'min_range': 0.0}, r'^min_range must be a number from 0\.01 to 100, got 0\.0$'),
    ({'max_range': math.nan}, r'^max_range must be a number from 0\.01 to 100, got nan$'),
    ({'edge_tolerance': -0.1}, r'edge_tolerance must be a number from 0\.01 to 100'),
    ({'max_torso_offset': math.inf}, r'max_torso_offset must be a number from 0\.1 to 100'),
    ({'min_range': 3.0, 'max_range': 2.0}, r'^max_range \(2 m\) must be larger than '
                                           r'min_range \(3 m\)$'),
])
def test_bad_settings_are_refused_with_the_reason(settings, message):
    with pytest.raises(DepthError, match=message):
        DepthSettings(**settings)


@pytest.mark.parametrize(('data', 'scale', 'message'), [
    (np.zeros((4, 4), np.uint8), 0.001, 'must be uint16 or float32, got uint8'),
    (np.zeros((4, 4), np.float64), 1.0, 'got float64'),
    (np.zeros((4, 4, 1), np.uint16), 0.001, r'an HxW array, got \(4, 4, 1\)'),
    (np.zeros((0, 4), np.uint16), 0.001, r'empty \(4x0\)'),
    (np.zeros((4, 4), np.uint16), 0.0, 'positive number of metres per unit, got 0.0'),
])
def test_bad_depth_arrays_are_refused(data, scale, message):
    with pytest.raises(DepthError, match=message):
        DepthImage(data, scale)


def test_depth_in_another_frame_is_refused_saying_what_to_remap():
    assert alignment_problem('camera_color_optical_frame', 'camera_color_optical_frame') is None
    problem = alignment_problem('camera_color_optical_frame', 'camera_depth_optical_frame')
    assert "'camera_depth_optical_frame'" in problem and "'camera_color_optical_frame'" in problem
    assert 'aligned_depth_to_color' in problem and 'Remap depth/image' in problem
