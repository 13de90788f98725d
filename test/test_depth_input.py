# SPDX-License-Identifier: Apache-2.0
"""The node's depth side without DDS (nodes.depth_input, nodes.diagnostics): real RealSense
depth messages paired by stamp and lifted, or refused and counted with the reason; the
health report says what depth does."""

from __future__ import annotations

from builtin_interfaces.msg import Time
import cv2
import numpy as np
import pytest
from rgbd import by_side, colour, colour_camera, depth_mm
from sensor_msgs.msg import CameraInfo
from std_msgs.msg import Header

from movenet_ros.conversions.depth import depth_image_to_msg
from movenet_ros.core.depth import DepthImage, DepthLifter, DepthSettings
from movenet_ros.core.estimator import PoseEstimator
from movenet_ros.core.model import MoveNetModel
from movenet_ros.core.results import PoseResult
from movenet_ros.nodes.depth_input import DepthCounters, DepthInput, DepthReport
from movenet_ros.nodes.diagnostics import Level, View, assess
from movenet_ros.nodes.statistics import FrameStats

CAMERA = colour_camera()
FRAME = 'camera_color_optical_frame'
SEC = 1_700_000_000


@pytest.fixture(scope='module')
def result() -> PoseResult:
    """MultiPose on real frame 00035: two people."""
    found = PoseEstimator(MoveNetModel('multipose')).estimate(colour('00035'), 'bgr')
    by_side(found.poses)
    return found


def header(nanosec: int = 0, frame_id: str = FRAME) -> Header:
    return Header(stamp=Time(sec=SEC, nanosec=nanosec), frame_id=frame_id)


def depth_input(**kwargs) -> DepthInput:
    return DepthInput(DepthSettings(), kwargs.pop('tolerance_s', 0.02),
                      kwargs.pop('queue_size', 5), 10**7)


def info(width: int, height: int, scale: float = 1.0) -> CameraInfo:
    k = [CAMERA.fx * scale, 0.0, (CAMERA.cx + 0.5) * scale - 0.5, 0.0, CAMERA.fy * scale,
         (CAMERA.cy + 0.5) * scale - 0.5, 0.0, 0.0, 1.0]
    return CameraInfo(width=width, height=height, k=k)


def test_a_paired_depth_frame_lifts_as_the_core_does(result):
    depth = depth_input()
    assert depth.add(depth_image_to_msg(depth_mm('00035'), header(5_000_000))) is None
    lifted, problem = depth.lift(result, header(), CAMERA)  # 5 ms apart: paired
    assert problem is None
    expected = DepthLifter().lift(result.poses, DepthImage.from_millimetres(depth_mm('00035')),
                                  CAMERA, result.keypoint_threshold)
    for got, want in zip(lifted.poses, expected, strict=True):
        np.testing.assert_array_equal(got.pose3d.valid, want.pose3d.valid)
        np.testing.assert_allclose(got.pose3d.keypoints, want.pose3d.keypoints, atol=1e-9)
        np.testing.assert_allclose(got.pose3d.position, want.pose3d.position, atol=1e-9)
    assert all(pose.pose3d is None for pose in result.poses)  # the input is untouched
    # Without a colour camera_info, the depth camera_info gives the (shared) intrinsics.
    depth.set_camera_info(info(640, 480))
    again, problem = depth.lift(result, header(), None)
    assert problem is None
    np.testing.assert_allclose(again.poses[0].pose3d.keypoints,
                               lifted.poses[0].pose3d.keypoints, atol=1e-6)
    report = depth.report()
    assert (report.period.received, report.period.paired) == (1, 2)
    assert depth.report().period == DepthCounters() and report.total.paired == 2


def test_depth_of_another_size_is_mapped_through_the_camera_infos(result):
    full = depth_input()
    full.add(depth_image_to_msg(depth_mm('00035'), header()))
    reference = full.lift(result, header(), CAMERA)[0]
    half = cv2.resize(depth_mm('00035'), (320, 240), interpolation=cv2.INTER_NEAREST)
    for depth_info in (info(320, 240, 0.5), None):  # through K, or as a resize of the grid
        depth = depth_input()
        if depth_info is not None:
            depth.set_camera_info(depth_info)
        depth.add(depth_image_to_msg(half, header()))
        lifted, problem = depth.lift(result, header(), CAMERA)
        assert problem is None
        for got, want in zip(lifted.poses, reference.poses, strict=True):
            both = got.pose3d.valid & want.pose3d.valid
            assert both.sum() >= 8
            # Half the readings: the same surfaces to a few centimetres.
            assert np.median(np.abs(got.pose3d.keypoints[both, 2]
                                    - want.pose3d.keypoints[both, 2])) < 0.03


@pytest.mark.parametrize('case, expected', [
    ('other frame', "depth/image is in frame 'camera_depth_optical_frame' but the colour image "
                    "in 'camera_color_optical_frame': the depth must be aligned"),
    ('no intrinsics', 'no calibrated camera_info (colour or depth)'),
    ('other aspect', 'depth image 640x360 and colour image 640x480 differ in aspect ratio'),
])
def test_unusable_depth_leaves_the_poses_2d_and_says_why(result, case, expected):
    depth = depth_input()
    frame_id = 'camera_depth_optical_frame' if case == 'other frame' else FRAME
    image = depth_mm('00035')[:360] if case == 'other aspect' else depth_mm('00035')
    assert depth.add(depth_image_to_msg(image, header(frame_id=frame_id))) is None
    lifted, problem = depth.lift(result, header(), None if case == 'no intrinsics' else CAMERA)
    assert problem.startswith(expected), problem
    assert lifted is result
    if case == 'other frame':
        assert 'aligned_depth_to_color' in problem  # what to remap
    report = depth.report()
    assert (report.period.unusable, report.period.paired, report.last_problem) == \
        (1, 0, problem)


def test_bad_depth_is_refused_and_counted(result):
    depth = depth_input()
    wrong = depth_image_to_msg(depth_mm('00035'), header())
    wrong.encoding = 'mono16'
    assert depth.add(wrong) == \
        "bad depth image: unsupported depth encoding 'mono16'; supported: 16UC1, 32FC1 " \
        '(REP-118: millimetres or metres)'
    short = depth_image_to_msg(depth_mm('00035'), header())
    short.data = short.data[:1000]
    assert depth.add(short).startswith('bad depth image: ')
    empty = depth.add(depth_image_to_msg(np.zeros((480, 640), np.uint16), header()))
    assert empty == 'depth image 640x480 (16UC1) has no reading within 0.3-10 m'
    nan = np.full((480, 640), np.nan, np.float32)
    assert depth.add(depth_image_to_msg(nan, header())).endswith('(32FC1) has no reading '
                                                                 'within 0.3-10 m')
    # None of them is kept: the colour frame finds no depth.
    lifted, problem = depth.lift(result, header(), CAMERA)
    assert (lifted, problem) == (result, 'no depth image received')
    report = depth.report()
    assert (report.period.received, report.period.bad, report.period.unpaired) == (4, 4, 1)


def test_late_and_dropped_depth_are_counted_by_reason(result):
    depth = depth_input(tolerance_s=0.01)
    depth.add(depth_image_to_msg(depth_mm('00035'), header(0)))
    depth.add(depth_image_to_msg(depth_mm('00035'), header(200_000_000)))
    assert depth.lift(result, header(100_000_000), CAMERA) == (result, None)  # dropped
    assert depth.report().last_unpaired.startswith(
        'no depth image within the tolerance (a depth frame was dropped); nearest -100.0 ms')
    assert depth.lift(result, header(300_000_000), CAMERA) == (result, None)  # late
    assert depth.report().last_unpaired.startswith('no depth image as new as the colour')
    depth.configure(DepthSettings(), 0.2)
    assert depth.lift(result, header(300_000_000), CAMERA)[0] is not result
    depth.clear()
    assert depth.lift(result, header(300_000_000), CAMERA)[1] == 'no depth image received'


def report(**period) -> DepthReport:
    counters = DepthCounters(**period)
    return DepthReport(counters, counters, 'the last problem', 'why not paired')


def test_the_health_report_says_what_depth_does():
    stats = FrameStats()
    stats.arrived('cam', received=2)
    stats.processed(10.0, 1.0, 20.0, (640, 480))
    snap = stats.take(1.0)
    base = dict(state='active', configure_error='', input_topic='/image', model_name='m',
                model_file='/m.tflite', camera_info='calibrated', upstream_loss='counted',
                depth_topic='/cam/aligned_depth')
    off = assess(View(**(base | {'depth_topic': ''})), snap)
    assert (off.level, off.message, off.values['depth']) == (Level.OK, 'running', 'off')
    for period, level, message in (
            (dict(received=1, paired=1), Level.OK, 'running'),
            (dict(received=2, bad=1, paired=1), Level.WARN,
             '1 bad depth image(s): the last problem'),
            (dict(received=1, unusable=1), Level.WARN, 'depth not usable: the last problem'),
            (dict(unpaired=1), Level.WARN, 'no depth on /cam/aligned_depth: why not paired')):
        health = assess(View(**base, depth=report(**period)), snap)
        assert (health.level, health.message) == (level, message), period
        assert health.values['depth'] == '/cam/aligned_depth'
        assert health.values['frames lifted to 3D'] == str(period.get('paired', 0))
        assert health.values['bad depth images'] == str(period.get('bad', 0))
