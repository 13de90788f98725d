# SPDX-License-Identifier: Apache-2.0
"""movenet_node in 3D over real Fast DDS: the node as its own process, fed the real RealSense
frames of test/data/rgbd (colour + aligned 16-bit depth) by the test, which plays the RGB-D
camera and the consumer. One node run for every check (it is the costly part): depth is
turned on by remapping depth/image, as a user wiring a RealSense would."""

from __future__ import annotations

from builtin_interfaces.msg import Time
from geometry_msgs.msg import PoseArray
import numpy as np
import pytest
from rgbd import FRAMES, camera_json, colour, colour_camera, depth_mm
from ros_helpers import (
    RELIABLE,
    NodeProcess,
    keypoints_of,
    set_parameters,
    spin_until,
    stop_cleanly,
)
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header
from visualization_msgs.msg import Marker

from movenet_ros.conversions.depth import depth_image_to_msg
from movenet_ros.conversions.images import array_to_image_msg
from movenet_ros.core.depth import DepthImage, DepthLifter, DepthSettings
from movenet_ros.core.results import Pose
from movenet_ros.msg import PersonPoseArray

FRAME = 'camera_color_optical_frame'
DEPTH_TOPIC = '/rgbd/aligned_depth_to_color/image_raw'
CAMERA = colour_camera()
SEC = 1_700_100_000


class RgbdCamera:
    """The fake camera's depth side, and the people it gets back."""

    sent = 0  # depth images published to the module's node, by every test

    def __init__(self, camera) -> None:
        self.camera = camera
        node = camera.node
        self.depth_pub = node.create_publisher(Image, DEPTH_TOPIC, RELIABLE)
        self.depth_info_pub = node.create_publisher(CameraInfo, 'depth/camera_info', RELIABLE)
        self.people: list[PoseArray] = []
        node.create_subscription(PoseArray, 'people', self.people.append, RELIABLE)
        info = camera_json()
        self.info = CameraInfo(width=info['width'], height=info['height'],
                               k=[info['fx'], 0.0, info['cx'], 0.0, info['fy'], info['cy'],
                                  0.0, 0.0, 1.0])

    @classmethod
    def connected(cls, node, camera) -> RgbdCamera:
        """The depth side of ``camera``, once the node answers and takes its depth."""
        rgbd = cls(camera)
        camera.wait_for_node(node)
        assert spin_until(camera.node, camera.executor,
                          lambda: rgbd.depth_pub.get_subscription_count() > 0, 10.0)
        return rgbd

    def depth(self, frame: str | np.ndarray, stamp: Time, frame_id: str = FRAME,
              metres: bool = False) -> None:
        data = depth_mm(frame) if isinstance(frame, str) else frame
        if metres:
            data = DepthImage.from_millimetres(data).to_metres()
        self.depth_pub.publish(depth_image_to_msg(data, Header(stamp=stamp, frame_id=frame_id)))
        RgbdCamera.sent += 1

        def taken() -> bool:  # by the node, before the colour frame comes (or refused)
            diagnostics = self.camera.diagnostics
            return bool(diagnostics) and \
                int(diagnostics[-1].get('depth images received', 0)) >= RgbdCamera.sent
        assert spin_until(self.camera.node, self.camera.executor, taken, 10.0)

    def colour(self, frame: str, stamp: Time) -> PersonPoseArray:
        """The colour frame (and the colour camera_info, same header): its poses."""
        header = Header(stamp=stamp, frame_id=FRAME)
        self.info.header = header
        self.camera.info_pub.publish(self.info)
        return self.camera.send_and_wait(array_to_image_msg(colour(frame), 'bgr8', header))

    def people_of(self, stamp: Time) -> PoseArray:
        assert spin_until(self.camera.node, self.camera.executor,
                          lambda: any(p.header.stamp == stamp for p in self.people), 5.0)
        return next(p for p in self.people if p.header.stamp == stamp)

    def markers_of(self, stamp: Time) -> list[Marker]:
        def mine():
            return [m for m in self.camera.markers if m.markers[0].header.stamp == stamp]
        assert spin_until(self.camera.node, self.camera.executor, mine, 5.0)
        return mine()[0].markers


def stamp(index: int, nanosec: int = 0) -> Time:
    return Time(sec=SEC + index, nanosec=nanosec)


def expected_3d(msg: PersonPoseArray, frame: str,
                settings: DepthSettings | None = None) -> list[Pose]:
    """What the depth and the intrinsics say for the published 2D keypoints."""
    poses = [Pose(keypoints=k, score=p.score, box=(p.x_min, p.y_min, p.x_max, p.y_max))
             for p, k in zip(msg.persons, keypoints_of(msg), strict=True)]
    return DepthLifter(settings).lift(poses, DepthImage.from_millimetres(depth_mm(frame)),
                                      CAMERA, msg.keypoint_threshold)


def positions(person) -> tuple[np.ndarray, np.ndarray]:
    xyz = np.array([[k.position.x, k.position.y, k.position.z] for k in person.keypoints])
    return xyz, np.array([k.position_valid for k in person.keypoints])


def assert_2d_only(msg: PersonPoseArray) -> None:
    assert msg.persons, 'the two people are still found in 2D'
    for person in msg.persons:
        xyz, valid = positions(person)
        assert not valid.any() and not xyz.any()
        assert not person.position_valid and not person.facing_valid


def assert_lifted(msg: PersonPoseArray, frame: str, settings: DepthSettings | None = None,
                  least_valid: int = 8) -> None:
    """Valid metric keypoints and positions, to 1 cm of the depth and the intrinsics."""
    assert len(msg.persons) == 2
    for person, want in zip(msg.persons, expected_3d(msg, frame, settings), strict=True):
        xyz, valid = positions(person)
        np.testing.assert_array_equal(valid, want.pose3d.valid)
        # Most keypoints of a person 2.2-2.5 m away have a depth.
        assert valid.sum() >= least_valid
        np.testing.assert_allclose(xyz[valid], want.pose3d.keypoints[valid], atol=0.01)
        # On the keypoint's own ray through the colour camera's intrinsics.
        for k in np.flatnonzero(valid):
            kp = person.keypoints[k]
            assert kp.position.x == pytest.approx((kp.x - CAMERA.cx) / CAMERA.fx
                                                  * kp.position.z, abs=0.01)
            assert kp.position.y == pytest.approx((kp.y - CAMERA.cy) / CAMERA.fy
                                                  * kp.position.z, abs=0.01)
        assert person.position_valid
        np.testing.assert_allclose([person.position.x, person.position.y, person.position.z],
                                   want.pose3d.position, atol=0.01)
        assert 2.0 < person.position.z < 2.7  # the two people stand 2.2 and 2.5 m away


@pytest.fixture(scope='module')
def node(repo):
    process = NodeProcess('movenet_node', '--params-file', str(repo / 'config' / 'multipose.yaml'),
                          '-p', 'diagnostics_period:=0.2', '-r', f'depth/image:={DEPTH_TOPIC}')
    yield process
    out = stop_cleanly(process)
    assert f'depth on "{DEPTH_TOPIC}"' in out  # the remap alone turned depth on


def test_poses_people_and_markers_in_metres(node, camera):
    rgbd = RgbdCamera.connected(node, camera)
    rgbd.depth_info_pub.publish(rgbd.info)
    for index, frame in enumerate(FRAMES):
        # 32FC1 metres for the last frame: the same metres as 16UC1 millimetres.
        rgbd.depth(frame, stamp(index), metres=index == 2)
        msg = rgbd.colour(frame, stamp(index))
        assert msg.header == Header(stamp=stamp(index), frame_id=FRAME)
        assert_lifted(msg, frame)
        # people: one pose per person, at the person's position, with the image's header.
        people = rgbd.people_of(stamp(index))
        assert people.header == msg.header
        assert len(people.poses) == 2
        for pose, person in zip(people.poses, msg.persons, strict=True):
            assert (pose.position.x, pose.position.y, pose.position.z) == \
                (person.position.x, person.position.y, person.position.z)
            q = pose.orientation
            assert q.x ** 2 + q.y ** 2 + q.z ** 2 + q.w ** 2 == pytest.approx(1.0)
        # The markers are the 3D keypoints, with the person ids as text.
        markers = rgbd.markers_of(stamp(index))
        joints = [m for m in markers if m.ns == 'keypoints']
        assert len(joints) == 2
        for marker, person in zip(joints, msg.persons, strict=True):
            xyz, valid = positions(person)
            drawn = np.array([[p.x, p.y, p.z] for p in marker.points])
            np.testing.assert_allclose(drawn, xyz[valid], atol=1e-9)
        labels = [m for m in markers if m.ns == 'ids']
        assert sorted(m.text for m in labels) == sorted(str(p.id) for p in msg.persons)


def test_late_and_dropped_depth_pair_by_stamp(node, camera):
    rgbd = RgbdCamera.connected(node, camera)
    # Depth 5 ms after the colour stamp: within the 20 ms tolerance.
    rgbd.depth('00044', stamp(10, 5_000_000))
    assert_lifted(rgbd.colour('00044', stamp(10)), '00044')
    # Its depth frame dropped (depth before and after it, 30 ms away): 2D only.
    rgbd.depth('00049', stamp(11, 30_000_000))
    assert_2d_only(rgbd.colour('00049', stamp(11)))
    assert rgbd.people_of(stamp(11)).poses == []
    # Depth that comes after its colour frame was processed: that frame stays 2D, the next
    # one pairs with its own depth frame, not the late one.
    assert_2d_only(rgbd.colour('00035', stamp(12)))
    rgbd.depth('00035', stamp(12))
    rgbd.depth('00049', stamp(13))
    assert_lifted(rgbd.colour('00049', stamp(13)), '00049')


def test_bad_or_stopped_depth_never_stops_the_2d_output(node, camera):
    rgbd = RgbdCamera.connected(node, camera)
    before = len(camera.diagnostics)
    # No reading at all, and depth in the depth camera's own frame: refused, counted.
    rgbd.depth(np.zeros((480, 640), np.uint16), stamp(20))
    assert_2d_only(rgbd.colour('00035', stamp(20)))
    rgbd.depth('00035', stamp(21), frame_id='camera_depth_optical_frame')
    assert_2d_only(rgbd.colour('00035', stamp(21)))
    # Depth stops: the colour frames go on, in 2D, and /diagnostics says so once a whole
    # period had only such frames.
    def stopped_reported() -> bool:
        return any(status.message.startswith(f'no depth on {DEPTH_TOPIC}: no depth image as '
                                             'new as the colour image')
                   for status in camera.statuses[before:])

    index = 22
    while not stopped_reported():
        assert index < 35, camera.statuses[-1:]
        assert_2d_only(rgbd.colour('00044', stamp(index)))
        camera.spin(0.3)
        index += 1
    # /diagnostics reports it a period later.
    def reported() -> bool:
        values = camera.diagnostics[-1] if len(camera.diagnostics) > before else {}
        return (values.get('last frame without depth', '').startswith(
            'no depth image as new as the colour image')
            and values['frames with unusable depth'] != '0')

    assert spin_until(camera.node, camera.executor, reported, 5.0), camera.diagnostics[-1:]
    values = camera.diagnostics[-1]
    assert int(values['bad depth images']) >= 1
    assert "is in frame 'camera_depth_optical_frame'" in values['last depth problem']
    assert 'Remap depth/image and depth/camera_info' in values['last depth problem']
    # And it lifts again as soon as depth comes back.
    rgbd.depth('00035', stamp(40))
    assert_lifted(rgbd.colour('00035', stamp(40)), '00035')


def test_depth_parameters_change_at_run_time(node, camera):
    rgbd = RgbdCamera.connected(node, camera)
    refused = set_parameters(camera, depth__patch_size=8)
    assert not refused[0].successful
    assert refused[0].reason.startswith('parameter depth.patch_size: patch_size must be odd')
    assert not set_parameters(camera, depth__enabled=False)[0].successful  # on configure
    # A small patch and a tight torso check: what the core gives with them.
    assert all(r.successful for r in set_parameters(camera, depth__patch_size=3,
                                                    depth__max_torso_offset=0.1))
    settings = DepthSettings(patch_size=3, max_torso_offset=0.1)
    rgbd.depth('00035', stamp(50))
    msg = rgbd.colour('00035', stamp(50))
    assert_lifted(msg, '00035', settings, least_valid=3)
    tight = sum(int(p.pose3d.valid.sum()) for p in expected_3d(msg, '00035', settings))
    assert tight < sum(int(p.pose3d.valid.sum()) for p in expected_3d(msg, '00035'))
    assert all(r.successful for r in set_parameters(camera, depth__patch_size=7,
                                                    depth__max_torso_offset=0.8))
