# SPDX-License-Identifier: Apache-2.0
"""Core results -> movenet_ros messages, and messages -> plain dicts (for JSON logs)."""

from __future__ import annotations

from movenet_ros.core.keypoints import KEYPOINT_NAMES
from movenet_ros.core.results import Pose, PoseResult
from movenet_ros.msg import Keypoint, PersonPose, PersonPoseArray


def pose_to_msg(pose: Pose) -> PersonPose:
    msg = PersonPose()
    msg.id = int(pose.id)
    msg.score = float(pose.score)
    msg.x_min, msg.y_min, msg.x_max, msg.y_max = (float(v) for v in pose.box)
    # One tolist() instead of 51 numpy scalar conversions.
    for kp, (x, y, score) in zip(msg.keypoints, pose.keypoints.tolist(), strict=True):
        kp.x, kp.y, kp.score = x, y, score
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
        'persons': [{
            'id': p.id,
            'score': round(p.score, 4),
            'box': [round(v, 2) for v in (p.x_min, p.y_min, p.x_max, p.y_max)],
            'keypoints': [_keypoint_to_dict(n, kp)
                          for n, kp in zip(KEYPOINT_NAMES, p.keypoints, strict=True)],
        } for p in msg.persons],
    }
