# SPDX-License-Identifier: Apache-2.0
"""Core results -> movenet_ros messages, and messages -> plain dicts (for JSON logs)."""

from __future__ import annotations

from movenet_ros.core.keypoints import KEYPOINT_NAMES
from movenet_ros.core.results import Pose, Pose3D, PoseResult
from movenet_ros.msg import Keypoint, PersonPose, PersonPoseArray


def pose_to_msg(pose: Pose) -> PersonPose:
    """The PersonPose of ``pose``, with its 3D fields when it was lifted (``pose3d``)."""
    msg = PersonPose()
    msg.id = int(pose.id)
    msg.score = float(pose.score)
    msg.x_min, msg.y_min, msg.x_max, msg.y_max = (float(v) for v in pose.box)
    # One tolist() instead of 51 numpy scalar conversions.
    for kp, (x, y, score) in zip(msg.keypoints, pose.keypoints.tolist(), strict=True):
        kp.x, kp.y, kp.score = x, y, score
    if pose.pose3d is not None:
        fill_person_3d(msg, pose.pose3d)
    return msg


def fill_person_3d(msg: PersonPose, pose3d: Pose3D) -> PersonPose:
    """Write ``pose3d`` into ``msg``: every Keypoint.position / position_valid, and the
    person's position and facing with their flags. What is not measured stays zero, false."""
    for keypoint, (x, y, z), valid in zip(msg.keypoints, pose3d.keypoints.tolist(),
                                          pose3d.valid.tolist(), strict=True):
        if valid:
            keypoint.position.x, keypoint.position.y, keypoint.position.z = x, y, z
            keypoint.position_valid = True
    if pose3d.position is not None:
        msg.position.x, msg.position.y, msg.position.z = pose3d.position.tolist()
        msg.position_valid = True
    if pose3d.facing is not None:
        msg.facing.x, msg.facing.y, msg.facing.z = pose3d.facing.tolist()
        msg.facing_valid = True
    return msg


def result_to_msg(result: PoseResult, header) -> PersonPoseArray:
    """The PersonPoseArray for one processed image; ``header`` is the image's, unchanged."""
    msg = PersonPoseArray()
    msg.header = header
    msg.image_width, msg.image_height = result.image_size
    msg.model = result.model
    msg.keypoint_threshold = float(result.keypoint_threshold)
    msg.persons = [pose_to_msg(p) for p in result.poses]
    return msg


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
