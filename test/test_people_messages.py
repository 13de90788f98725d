# SPDX-License-Identifier: Apache-2.0
"""Lifted real people -> PersonPose 3D fields, the people PoseArray and 3D/id markers."""

from __future__ import annotations

from dataclasses import replace
import math

import numpy as np
import pytest
from rgbd import by_side, colour, colour_camera, depth_mm
from std_msgs.msg import Header
from visualization_msgs.msg import Marker

from movenet_ros.conversions.markers import NAMESPACE_IDS, poses_to_markers
from movenet_ros.conversions.people import poses_to_people
from movenet_ros.conversions.poses import (
    pose_array_to_dict,
    pose_to_msg,
    result_to_msg,
)
from movenet_ros.core.depth import DepthImage, DepthLifter, facing_quaternion
from movenet_ros.core.estimator import PoseEstimator
from movenet_ros.core.model import MoveNetModel
from movenet_ros.core.results import Pose3D, PoseResult

THRESHOLD = 0.3
HEADER = Header(frame_id='camera_color_optical_frame')
HEADER.stamp.sec, HEADER.stamp.nanosec = 1_732_500_000, 5


@pytest.fixture(scope='module')
def people() -> dict[str, object]:
    """Both real people of frame 44, tracked ids 3 (standing) and 8 (sitting), lifted."""
    poses = PoseEstimator(MoveNetModel('multipose')).estimate(colour('00044'), 'bgr').poses
    lifted = by_side(DepthLifter().lift(poses, DepthImage.from_millimetres(depth_mm('00044')),
                                        colour_camera(), THRESHOLD))
    lifted['standing'].id, lifted['sitting'].id = 3, 8
    return lifted


def test_person_pose_carries_every_3d_field(people):
    standing = people['standing']
    msg = pose_to_msg(standing)
    lifted = standing.pose3d
    assert not lifted.valid.all() and lifted.valid.sum() > 10  # the blurred hand is invalid
    for keypoint, xyz, valid in zip(msg.keypoints, lifted.keypoints, lifted.valid,
                                    strict=True):
        assert keypoint.position_valid == bool(valid)
        assert [keypoint.position.x, keypoint.position.y, keypoint.position.z] == \
            xyz.tolist()
        if not valid:
            assert [keypoint.position.x, keypoint.position.y, keypoint.position.z] == [0] * 3
    assert msg.position_valid
    assert [msg.position.x, msg.position.y, msg.position.z] == lifted.position.tolist()
    assert msg.position.z == pytest.approx(2.14, abs=0.03)
    assert msg.facing_valid == (lifted.facing is not None)
    # The 2D fields are those of the 2D message, whose 3D fields are all unset.
    plain = pose_to_msg(replace(standing, pose3d=None))
    assert not plain.position_valid and not plain.facing_valid
    assert not any(k.position_valid for k in plain.keypoints)
    assert [(k.x, k.y, k.score) for k in msg.keypoints] == [
        (k.x, k.y, k.score) for k in plain.keypoints]
    assert (msg.id, msg.score, msg.x_min, msg.y_max) == (plain.id, plain.score, plain.x_min,
                                                         plain.y_max)


def test_unknown_3d_stays_zero_and_false(people):
    sitting = people['sitting']
    unknown = Pose3D(np.zeros((17, 3)), np.zeros(17, bool))
    msg = pose_to_msg(replace(sitting, pose3d=unknown))
    assert not msg.position_valid and not msg.facing_valid
    assert (msg.position.x, msg.position.y, msg.position.z) == (0.0, 0.0, 0.0)
    assert (msg.facing.x, msg.facing.y, msg.facing.z) == (0.0, 0.0, 0.0)
    assert not any(k.position_valid for k in msg.keypoints)


def test_people_pose_array_has_one_pose_per_located_person(people):
    standing, sitting = people['standing'], people['sitting']
    msg = poses_to_people([standing, sitting], HEADER)
    assert msg.header == HEADER and len(msg.poses) == 2
    for pose, person in zip(msg.poses, (standing, sitting), strict=True):
        p = pose.position
        assert [p.x, p.y, p.z] == person.pose3d.position.tolist()
        o = pose.orientation
        assert (o.x, o.y, o.z, o.w) == facing_quaternion(person.pose3d.facing)
        assert math.isclose(math.hypot(o.x, o.y, o.z, o.w), 1.0)
    # A person without a measured position is left out; nobody gives an empty array.
    nowhere = Pose3D(np.zeros((17, 3)), np.zeros(17, bool))
    msg = poses_to_people([replace(standing, pose3d=nowhere), sitting,
                           replace(sitting, pose3d=None)], HEADER)
    assert [pose.position.z for pose in msg.poses] == [sitting.pose3d.position[2]]
    assert poses_to_people([], HEADER).poses == []


def test_markers_are_the_measured_points(people):
    standing, sitting = people['standing'], people['sitting']
    markers = poses_to_markers([standing, sitting], HEADER, colour_camera(), 2.0, THRESHOLD,
                               label_ids=True).markers
    assert markers[0].action == Marker.DELETEALL
    for index, person in enumerate((standing, sitting)):
        shown = person.visible(THRESHOLD) & person.pose3d.valid
        joints = next(m for m in markers if m.ns == 'keypoints' and m.id == index)
        assert [[p.x, p.y, p.z] for p in joints.points] == \
            person.pose3d.keypoints[shown].tolist()
        bones = next(m for m in markers if m.ns == 'bones' and m.id == index)
        points = {(p.x, p.y, p.z) for p in bones.points}
        assert points <= {tuple(xyz) for xyz in person.pose3d.keypoints[shown].tolist()}
        depths = {z for _, _, z in points}
        assert len(depths) > 5 and all(1.9 < z < 2.6 for z in depths)  # not the 2 m plane
        label = next(m for m in markers if m.ns == NAMESPACE_IDS and m.id == index)
        assert label.type == Marker.TEXT_VIEW_FACING and label.text == str(person.id)
        top = person.pose3d.keypoints[shown][:, 1].min()
        assert label.pose.position.y < top  # above the head (optical y points down)
        assert label.pose.position.z == pytest.approx(
            person.pose3d.keypoints[shown][np.argmin(person.pose3d.keypoints[shown][:, 1]), 2])
        assert label.header == HEADER


def test_without_depth_the_markers_stay_on_the_plane_and_untracked_get_no_label(people):
    flat = replace(people['standing'], pose3d=None, id=-1)
    markers = poses_to_markers([flat], HEADER, colour_camera(), 2.0, THRESHOLD,
                               label_ids=True).markers
    assert {m.ns for m in markers[1:]} == {'bones', 'keypoints'}
    assert all(p.z == 2.0 for m in markers[1:] for p in m.points)
    tracked = replace(flat, id=5)
    labelled = poses_to_markers([tracked], HEADER, colour_camera(), 2.0, THRESHOLD,
                                label_ids=True).markers
    label = next(m for m in labelled if m.ns == NAMESPACE_IDS)
    assert label.text == '5' and label.pose.position.z == 2.0
    unlabelled = poses_to_markers([tracked], HEADER, colour_camera(), 2.0, THRESHOLD).markers
    assert NAMESPACE_IDS not in {m.ns for m in unlabelled}


def test_poses_and_their_json_carry_the_3d_fields(people):
    standing, sitting = people['standing'], people['sitting']
    result = PoseResult(poses=[standing, replace(sitting, pose3d=None)], image_size=(640, 480),
                        model='multipose_lightning', keypoint_threshold=THRESHOLD,
                        input_size=(192, 256))
    msg = result_to_msg(result, HEADER)
    assert msg.persons[0].position_valid and not msg.persons[1].position_valid
    record = pose_array_to_dict(msg)
    first, second = record['persons']
    assert first['position'] == [msg.persons[0].position.x, msg.persons[0].position.y,
                                 msg.persons[0].position.z]
    assert ('facing' in first) == msg.persons[0].facing_valid
    assert 'position' not in second and 'facing' not in second
    shown = [k for k in first['keypoints'] if 'position' in k]
    assert len(shown) == int(standing.pose3d.valid.sum())
    assert not any('position' in k for k in second['keypoints'])
