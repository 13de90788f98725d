# SPDX-License-Identifier: Apache-2.0
"""Lifted poses (``Pose.pose3d``) -> ``people``, a ``geometry_msgs/PoseArray``: the message
people-followers and navigation layers take. (PersonPose's own 3D fields are written with its
2D ones, in :mod:`movenet_ros.conversions.poses`.)

Everything is in the source image's optical frame (x right, y down, z forward), in metres,
with the image's header. A missing measurement stays zero with its ``*_valid`` flag false,
never a guessed number.
"""

from __future__ import annotations

from geometry_msgs.msg import Pose as PoseMsg
from geometry_msgs.msg import PoseArray

from movenet_ros.core.depth import facing_quaternion
from movenet_ros.core.results import Pose


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
