# SPDX-License-Identifier: Apache-2.0
"""Core results -> movenet_ros messages (rclpy), and messages -> plain dicts (for JSON logs)."""

from __future__ import annotations

from movenet_ros.conversions.factory import RCLPY
from movenet_ros.core.keypoints import KEYPOINT_NAMES
from movenet_ros.core.messages import pose_array_msg, pose_msg
from movenet_ros.core.results import Pose, PoseResult
from movenet_ros.msg import Keypoint, PersonPose, PersonPoseArray


def pose_to_msg(pose: Pose) -> PersonPose:
    """The PersonPose of one person, with its 3D fields when it was lifted (``pose3d``);
    built by core.messages, like the bags' poses."""
    return pose_msg(RCLPY, pose)


def result_to_msg(result: PoseResult, header) -> PersonPoseArray:
    """The PersonPoseArray for one processed image; ``header`` is the image's, unchanged."""
    return pose_array_msg(RCLPY, result, header)


def _keypoint_to_dict(name: str, kp: Keypoint) -> dict:
    out = {'name': name, 'x': round(kp.x, 2), 'y': round(kp.y, 2), 'score': round(kp.score, 4)}
    if kp.position_valid:
        out['position'] = [kp.position.x, kp.position.y, kp.position.z]
    return out


def pose_array_to_dict(msg: PersonPoseArray) -> dict:
    """JSON-ready dict of a PersonPoseArray, in the same shape as the CLI's JSON lines."""
    return {
        'stamp': msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9,
        'frame_id': msg.header.frame_id,
        'image_width': msg.image_width,
        'image_height': msg.image_height,
        'model': msg.model,
        'keypoint_threshold': round(msg.keypoint_threshold, 4),
        'persons': [_person_to_dict(p) for p in msg.persons],
    }


def _person_to_dict(person: PersonPose) -> dict:
    out = {
        'id': person.id,
        'score': round(person.score, 4),
        'box': [round(v, 2) for v in (person.x_min, person.y_min, person.x_max, person.y_max)],
        'keypoints': [_keypoint_to_dict(n, kp)
                      for n, kp in zip(KEYPOINT_NAMES, person.keypoints, strict=True)],
    }
    if person.position_valid:
        out['position'] = [person.position.x, person.position.y, person.position.z]
    if person.facing_valid:
        out['facing'] = [person.facing.x, person.facing.y, person.facing.z]
    return out
