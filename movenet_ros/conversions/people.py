# SPDX-License-Identifier: Apache-2.0
"""Lifted poses (``Pose.pose3d``) -> the 3D fields of PersonPose, and ``people`` as a
``geometry_msgs/PoseArray``: the message people-followers and navigation layers take.

Everything is in the source image's optical frame (x right, y down, z forward), in metres,
with the image's header. A missing measurement stays zero with its ``*_valid`` flag false,
never a guessed number.
"""

from __future__ import annotations

from geometry_msgs.msg import Pose as PoseMsg
from geometry_msgs.msg import PoseArray

from movenet_ros.core.depth import facing_quaternion
from movenet_ros.core.results import Pose, Pose3D
from movenet_ros.msg import PersonPose


def fill_person_3d(msg: PersonPose, pose3d: Pose3D) -> PersonPose:
    """Write ``pose3d`` into ``msg`` (a PersonPose with its 2D fields set): every
    Keypoint.position / position_valid, and the person's position and facing."""
    for keypoint, (x, y, z), valid in zip(msg.keypoints, pose3d.keypoints.tolist(),
                                          pose3d.valid.tolist(), strict=True):
        keypoint.position.x, keypoint.position.y, keypoint.position.z = x, y, z
        keypoint.position_valid = valid
    if pose3d.position is not None:
        msg.position.x, msg.position.y, msg.position.z = pose3d.position.tolist()
        msg.position_valid = True
    if pose3d.facing is not None:
        msg.facing.x, msg.facing.y, msg.facing.z = pose3d.facing.tolist()
        msg.facing_valid = True
    return msg


def poses_to_people(poses: list[Pose], header) -> PoseArray:
    """One geometry_msgs/Pose per person with a measured position, in the order of ``poses``
    (people without one are left out). Orientation: the person's body frame, x along the
    direction they face, z up (see core.depth.facing_quaternion); identity when the facing is
    unknown. ``header``: the image's, unchanged."""
    msg = PoseArray(header=header)
    for pose in poses:
        lifted = pose.pose3d
        if lifted is None or lifted.position is None:
            continue
        person = PoseMsg()
        person.position.x, person.position.y, person.position.z = lifted.position.tolist()
        o = person.orientation
        o.x, o.y, o.z, o.w = facing_quaternion(lifted.facing)
        msg.poses.append(person)
    return msg
