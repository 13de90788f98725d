# SPDX-License-Identifier: Apache-2.0
"""The 2D overlay (image markers) and the one builder behind node and bag messages.

Image markers must sit on the keypoints: their points are checked against the poses, in
Foxglove's corner-origin pixels (our centre-origin coordinates + 0.5), and against the
annotated image, which draws the same keypoints. The node's rclpy messages and the bag
writer's rosbags messages come from one builder: their CDR bytes are compared.
"""

from __future__ import annotations

import numpy as np
from people import FACING_CAMERA_XY
import pytest
from rclpy.serialization import serialize_message

from movenet_ros.conversions.factory import message_class
from movenet_ros.conversions.markers import poses_to_image_markers, poses_to_markers
from movenet_ros.conversions.poses import result_to_msg
from movenet_ros.core.bag_messages import BagTypes
from movenet_ros.core.camera import Pinhole
from movenet_ros.core.drawing import SIDE_COLOURS_RGB, draw_poses
from movenet_ros.core.estimator import PoseEstimator
from movenet_ros.core.keypoints import KEYPOINT_INDEX, SKELETON, Side, keypoint_side
from movenet_ros.core.messages import image_marker_msgs, marker_array_msg, pose_array_msg
from movenet_ros.core.model import MoveNetModel
from movenet_ros.core.overlay import IMAGE_MARKER_OFFSET, image_marker_shapes
from movenet_ros.core.results import Pose, PoseResult

THRESHOLD = 0.3
SIZE = (800, 700)  # (width, height): strokes 2 px (bones 3 px), keypoint radius 3 px
# A person facing the camera (their left on the image's right), two keypoints below the
# threshold, the ankles below the image (y = 750 > 699.5: score 0, as decoding gives it).
XY = FACING_CAMERA_XY
LOW = ('left_ear', 'right_wrist')
OUTSIDE = ('left_ankle', 'right_ankle')


def _pose(dx: float = 0.0) -> Pose:
    keypoints = np.zeros((17, 3))
    for name, (x, y) in XY.items():
        score = 0.1 if name in LOW else 0.0 if name in OUTSIDE else 0.8
        keypoints[KEYPOINT_INDEX[name]] = (x + dx, y, score)
    return Pose(keypoints=keypoints, score=0.7, box=(200.0, 90.0, 600.0, 699.5))


def _xy(msg) -> np.ndarray:
    return np.array([(p.x, p.y, p.z) for p in msg.points]).reshape(-1, 3)


def _rgb(colour) -> tuple[int, int, int]:
    return round(colour.r * 255), round(colour.g * 255), round(colour.b * 255)


def test_image_markers_sit_on_the_keypoints_in_corner_pixels():
    pose = _pose()
    bones, keypoints = poses_to_image_markers([pose], None, THRESHOLD, SIZE)
    shown = [i for i in range(17) if pose.keypoints[i, 2] >= THRESHOLD]
    assert len(shown) == 13  # 17 minus two low and two outside
    # POINTS: every visible keypoint, at its position + 0.5, coloured by its side.
    assert keypoints.type == keypoints.POINTS and keypoints.ns == 'keypoints'
    np.testing.assert_array_equal(_xy(keypoints)[:, :2], pose.keypoints[shown, :2] + 0.5)
    assert np.all(_xy(keypoints)[:, 2] == 0)
    assert [_rgb(c) for c in keypoints.outline_colors] == [
        SIDE_COLOURS_RGB[keypoint_side(i)] for i in shown]
    # LINE_LIST: pairs of ends, a bone only where both ends are shown.
    expected = [(a, b, side) for a, b, side in SKELETON if a in shown and b in shown]
    assert bones.type == bones.LINE_LIST and bones.ns == 'bones'
    ends = _xy(bones)[:, :2].reshape(-1, 2, 2)
    assert len(ends) == len(expected) == 12  # 16 bones less 4 ending at a hidden keypoint
    for (a, b, side), (pa, pb), ca, cb in zip(expected, ends, bones.outline_colors[::2],
                                              bones.outline_colors[1::2], strict=True):
        np.testing.assert_array_equal(pa, pose.keypoints[a, :2] + 0.5)
        np.testing.assert_array_equal(pb, pose.keypoints[b, :2] + 0.5)
        assert _rgb(ca) == _rgb(cb) == SIDE_COLOURS_RGB[side]
    # The left shoulder-elbow bone of this person (their left: the image's right) is orange.
    left = expected.index((KEYPOINT_INDEX['left_shoulder'], KEYPOINT_INDEX['left_elbow'],
                           Side.LEFT))
    np.testing.assert_array_equal(ends[left], [[500.5, 200.5], [600.5, 300.5]])
    # Sizes follow the annotated image's strokes at 800 px: bones 3 px, dots 6 px across.
    assert (bones.scale, keypoints.scale) == (3.0, 6.0)
    # One colour for viewers without per-point colours, opaque.
    assert keypoints.outline_color.a == 1.0


def test_image_markers_agree_with_the_annotated_image():
    """Where an image marker point lands (minus the corner offset) the annotated image has
    drawn that keypoint, in the same colour."""
    pose = _pose()
    image = draw_poses(np.zeros((SIZE[1], SIZE[0], 3), np.uint8), [pose], THRESHOLD,
                       channel_order='rgb', draw_boxes=False)
    _, keypoints = image_marker_shapes([pose], THRESHOLD, SIZE)
    for (x, y, _), colour in zip(keypoints.points, keypoints.colours, strict=True):
        column, row = round(x - IMAGE_MARKER_OFFSET), round(y - IMAGE_MARKER_OFFSET)
        expected = tuple(round(c * 255) for c in colour[:3])
        assert tuple(image[row, column]) == expected


def test_image_markers_hold_everyone_and_are_empty_without_people():
    one, other = _pose(), _pose(dx=-150.0)
    bones, keypoints = poses_to_image_markers([one, other], None, THRESHOLD, SIZE)
    assert len(keypoints.points) == 26 and len(bones.points) == 48
    np.testing.assert_array_equal(_xy(keypoints)[13:, 0], _xy(keypoints)[:13, 0] - 150.0)
    bones, keypoints = poses_to_image_markers([], None, THRESHOLD, SIZE)
    assert (len(bones.points), len(keypoints.points)) == (0, 0)
    assert bones.action == bones.ADD  # an empty marker replaces the last frame's


@pytest.fixture(scope='module')
def real_result(demo_frames) -> PoseResult:
    """Lightning on the third frame of the video (the man on the block), as a stream gets it."""
    estimator = PoseEstimator(MoveNetModel('lightning'), keypoint_threshold=THRESHOLD)
    for frame in demo_frames[:3]:
        result = estimator.estimate(frame, channel_order='bgr')
    assert result.poses and result.poses[0].visible(THRESHOLD).sum() >= 10
    return result


def test_image_markers_of_a_real_pose(real_result):
    pose = real_result.poses[0]
    bones, keypoints = poses_to_image_markers(real_result.poses, None, THRESHOLD,
                                              real_result.image_size)
    visible = pose.visible(THRESHOLD)
    np.testing.assert_allclose(_xy(keypoints)[:, :2], pose.keypoints[visible, :2] + 0.5)
    n_bones = sum(1 for a, b, _ in SKELETON if visible[a] and visible[b])
    assert len(bones.points) == 2 * n_bones and n_bones >= 8
    # 1768 px wide: strokes of 4 px (bones 5), dots of radius 7.
    assert (bones.scale, keypoints.scale) == (5.0, 14.0)


# Message types the bags hold that are built by BagTypes.new (defaults must match rclpy's).
BUILT_TYPES = ('movenet_ros/msg/PersonPoseArray', 'movenet_ros/msg/PersonPose',
               'movenet_ros/msg/Keypoint', 'visualization_msgs/msg/MarkerArray',
               'visualization_msgs/msg/Marker', 'visualization_msgs/msg/ImageMarker',
               'sensor_msgs/msg/Image', 'std_msgs/msg/Header', 'geometry_msgs/msg/Pose')


@pytest.fixture(scope='module')
def bag_types() -> BagTypes:
    return BagTypes()


def _normalised(bag_types: BagTypes, msg, msgtype: str) -> bytes:
    """rclpy's CDR bytes, re-serialised by rosbags: rclpy leaves alignment padding
    uninitialised, so the bytes are compared after a decode/encode round (values only)."""
    return bag_types.serialize(bag_types.deserialize(serialize_message(msg), msgtype))


@pytest.mark.parametrize('msgtype', BUILT_TYPES)
def test_bag_messages_default_like_rclpy(bag_types, msgtype):
    assert bag_types.serialize(bag_types.new(msgtype)) == _normalised(
        bag_types, message_class(msgtype)(), msgtype)


def test_node_and_bag_messages_are_the_same(bag_types, real_result):
    """The node's conversions and the bag writer's messages encode to the same bytes."""
    from builtin_interfaces.msg import Time
    from std_msgs.msg import Header

    stamp = 1_767_225_600_123_456_789
    node_header = Header(stamp=Time(sec=stamp // 10**9, nanosec=stamp % 10**9),
                         frame_id='camera_optical')
    bag_header = bag_types.header(stamp, 'camera_optical')
    assert _normalised(bag_types, node_header, 'std_msgs/msg/Header') == \
        bag_types.serialize(bag_header)
    poses = real_result.poses
    camera = Pinhole.from_k([1400.0, 0, 880, 0, 1400.0, 500, 0, 0, 1], (1768, 994), (1768, 994))
    pairs = [
        (result_to_msg(real_result, node_header),
         pose_array_msg(bag_types, real_result, bag_header)),
        (poses_to_markers(poses, node_header, camera, 2.5, THRESHOLD, 0.03, 0.25),
         marker_array_msg(bag_types, poses, bag_header, camera, 2.5, THRESHOLD, 0.03, 0.25)),
        *zip(poses_to_image_markers(poses, node_header, THRESHOLD, real_result.image_size),
             image_marker_msgs(bag_types, poses, bag_header, THRESHOLD,
                               real_result.image_size), strict=True)]
    for node_msg, bag_msg in pairs:
        encoded = bag_types.serialize(bag_msg)
        assert _normalised(bag_types, node_msg, bag_msg.__msgtype__) == encoded
        assert len(encoded) > 100, bag_msg.__msgtype__  # real content, not two empty ones
