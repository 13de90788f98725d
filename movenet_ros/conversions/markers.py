# SPDX-License-Identifier: Apache-2.0
"""Poses -> visualization_msgs/MarkerArray for RViz.

Each person becomes a LINE_LIST of bones and a SPHERE_LIST of keypoints, coloured by body
side like the annotated image, in the image's own frame, and (``label_ids``) a text marker with
their tracking id above their head. A pose lifted with a depth image (``Pose.pose3d``) is drawn
where it was measured, with only its keypoints that have a 3D position. Without depth, a 2D
pose has no distance: it is drawn on the plane ``depth`` metres in front of the camera, each
keypoint on its viewing ray (from camera_info, or an assumed 60 degree camera when there is
none), so it overlays the person when RViz looks through the camera. Every array starts with
a DELETEALL marker, so people who left the view never leave markers behind.
"""

from __future__ import annotations

from builtin_interfaces.msg import Duration
from geometry_msgs.msg import Point
import numpy as np
from std_msgs.msg import ColorRGBA
from visualization_msgs.msg import Marker, MarkerArray

from movenet_ros.core.camera import Pinhole
from movenet_ros.core.drawing import SIDE_COLOURS_RGB
from movenet_ros.core.keypoints import SKELETON, keypoint_side
from movenet_ros.core.results import Pose, visible_mask

NAMESPACE_BONES = 'bones'
NAMESPACE_KEYPOINTS = 'keypoints'
NAMESPACE_IDS = 'ids'
# Id labels: text height and gap above the top keypoint, in bone widths (0.1 m and 0.05 m at
# the default 0.02 m).
LABEL_HEIGHT = 5.0
LABEL_GAP = 2.5
_WHITE = ColorRGBA(r=1.0, g=1.0, b=1.0, a=1.0)


def _rgba(side) -> ColorRGBA:
    r, g, b = SIDE_COLOURS_RGB[side]
    return ColorRGBA(r=r / 255.0, g=g / 255.0, b=b / 255.0, a=1.0)


_SIDE_RGBA = {side: _rgba(side) for side in SIDE_COLOURS_RGB}


def _points(xyz: np.ndarray) -> list[Point]:
    return [Point(x=x, y=y, z=z) for x, y, z in xyz.tolist()]


def poses_to_markers(poses: list[Pose], header, camera: Pinhole, depth: float,
                     keypoint_threshold: float, line_width: float = 0.02,
                     lifetime_s: float = 0.0, label_ids: bool = False) -> MarkerArray:
    """The MarkerArray for one image's poses (``header``: the image's, unchanged).

    ``label_ids``: add a TEXT_VIEW_FACING marker (namespace 'ids') with the id of each
    tracked person (untracked people have none to show).
    """
    clear = Marker(header=header, action=Marker.DELETEALL)
    markers = [clear]
    lifetime = Duration(sec=int(lifetime_s), nanosec=int((lifetime_s % 1) * 1e9))
    for index, pose in enumerate(poses):
        visible = visible_mask(pose.keypoints[:, 2], keypoint_threshold)
        if pose.pose3d is not None:
            xyz = pose.pose3d.keypoints
            visible &= pose.pose3d.valid
        else:
            xyz = camera.points_at_depth(pose.keypoints[:, :2], depth)
        points = _points(xyz)
        bones = Marker(header=header, ns=NAMESPACE_BONES, id=index, type=Marker.LINE_LIST,
                       action=Marker.ADD, lifetime=lifetime)
        bones.pose.orientation.w = 1.0
        bones.scale.x = line_width
        for a, b, side in SKELETON:
            if visible[a] and visible[b]:
                bones.points += [points[a], points[b]]
                bones.colors += [_SIDE_RGBA[side], _SIDE_RGBA[side]]
        joints = Marker(header=header, ns=NAMESPACE_KEYPOINTS, id=index,
                        type=Marker.SPHERE_LIST, action=Marker.ADD, lifetime=lifetime)
        joints.pose.orientation.w = 1.0
        joints.scale.x = joints.scale.y = joints.scale.z = 2.5 * line_width
        for i in np.flatnonzero(visible).tolist():
            joints.points.append(points[i])
            joints.colors.append(_SIDE_RGBA[keypoint_side(i)])
        markers += [m for m in (bones, joints) if m.points]
        if label_ids and pose.id >= 0 and visible.any():
            markers.append(_id_label(header, index, pose.id, xyz[visible], line_width,
                                     lifetime))
    return MarkerArray(markers=markers)


def _id_label(header, index: int, person_id: int, xyz: np.ndarray, line_width: float,
              lifetime: Duration) -> Marker:
    """The person's id, centred above their highest keypoint (optical frame: up is -y)."""
    label = Marker(header=header, ns=NAMESPACE_IDS, id=index, type=Marker.TEXT_VIEW_FACING,
                   action=Marker.ADD, lifetime=lifetime, text=str(person_id), color=_WHITE)
    top = xyz[np.argmin(xyz[:, 1])]
    label.pose.position = Point(x=float(xyz[:, 0].mean()),
                                y=float(top[1]) - (LABEL_GAP + LABEL_HEIGHT / 2) * line_width,
                                z=float(top[2]))
    label.pose.orientation.w = 1.0
    label.scale.z = LABEL_HEIGHT * line_width
    return label
