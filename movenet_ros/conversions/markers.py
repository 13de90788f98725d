# SPDX-License-Identifier: Apache-2.0
"""Poses -> RViz markers (visualization_msgs/MarkerArray) and image markers
(visualization_msgs/ImageMarker), as rclpy messages.

Built by :mod:`movenet_ros.core.messages` from the geometry of
:mod:`movenet_ros.core.overlay`, which the bag writer shares, so the node and the bags carry
the same markers. Each person becomes a LINE_LIST of bones and a SPHERE_LIST of keypoints in
the image's own frame, and optionally a text marker with their id: a pose lifted with depth
is drawn where it was measured; without depth, a 2D pose is drawn on the plane ``depth``
metres in front of the camera, each keypoint on its viewing ray (from camera_info, or an assumed 60
degree camera when there is none), so it overlays the person when RViz looks through the
camera. Every array starts with a DELETEALL marker, so people who left the view never leave
markers behind.

Image markers: everyone's bones as one LINE_LIST and keypoints as one POINTS marker, in
source-image pixels with the origin at the top-left *corner* of the image (our poses'
coordinates + 0.5), which is where Foxglove draws them over the camera image. Jazzy's
visualization_msgs has no ImageMarkerArray, so each is a message on a topic of its own (a
viewer shows the latest message of each topic).
"""

from __future__ import annotations

from visualization_msgs.msg import ImageMarker, MarkerArray

from movenet_ros.conversions.factory import RCLPY
from movenet_ros.core.camera import Pinhole
from movenet_ros.core.messages import image_marker_msgs, marker_array_msg
from movenet_ros.core.overlay import (
    DEFAULT_MARKER_LINE_WIDTH,
    NAMESPACE_BONES,
    NAMESPACE_IDS,
    NAMESPACE_KEYPOINTS,
)
from movenet_ros.core.results import Pose

__all__ = ['NAMESPACE_BONES', 'NAMESPACE_IDS', 'NAMESPACE_KEYPOINTS', 'poses_to_image_markers',
           'poses_to_markers']


def poses_to_markers(poses: list[Pose], header, camera: Pinhole, depth: float,
                     keypoint_threshold: float, line_width: float = DEFAULT_MARKER_LINE_WIDTH,
                     lifetime_s: float = 0.0, label_ids: bool = False) -> MarkerArray:
    """The MarkerArray for one image's poses (``header``: the image's, unchanged); lifted
    poses in 3D, ``label_ids`` adds each tracked person's id as text (namespace 'ids')."""
    return marker_array_msg(RCLPY, poses, header, camera, depth, keypoint_threshold,
                            line_width, lifetime_s, label_ids)


def poses_to_image_markers(poses: list[Pose], header, keypoint_threshold: float,
                           image_wh: tuple[int, int]) -> tuple[ImageMarker, ImageMarker]:
    """(bones, keypoints) image markers of one image's poses, with the image's ``header``."""
    return image_marker_msgs(RCLPY, poses, header, keypoint_threshold, image_wh)
