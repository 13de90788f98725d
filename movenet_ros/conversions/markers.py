# SPDX-License-Identifier: Apache-2.0
"""Poses -> RViz markers (visualization_msgs/MarkerArray) and image markers
(visualization_msgs/ImageMarker), in rclpy types.

The geometry (what is shown, where, in which colour and size) comes from
:mod:`movenet_ros.core.overlay`, which the bag writer shares, so both publish the same
markers. Each person becomes a LINE_LIST of bones and a SPHERE_LIST of keypoints in the
image's own frame: without depth, a 2D pose is drawn on the plane ``depth`` metres in front
of the camera, each keypoint on its viewing ray (from camera_info, or an assumed 60 degree
camera when there is none), so it overlays the person when RViz looks through the camera.
Every array starts with a DELETEALL marker, so people who left the view never leave markers
behind.

Image markers: the bones of everyone as one LINE_LIST and the keypoints as one POINTS
marker, in source-image pixels with the origin at the top-left *corner* of the image (our
poses' coordinates + 0.5), which is how Foxglove draws them over the camera image.
Jazzy's visualization_msgs has no ImageMarkerArray, so each is a message of its own, on a
topic of its own (a viewer shows the latest message of each topic).
"""

from __future__ import annotations

from builtin_interfaces.msg import Duration
from geometry_msgs.msg import Point
from std_msgs.msg import ColorRGBA
from visualization_msgs.msg import ImageMarker, Marker, MarkerArray

from movenet_ros.core.camera import Pinhole
from movenet_ros.core.overlay import (
    DEFAULT_MARKER_LINE_WIDTH,
    NAMESPACE_BONES,
    NAMESPACE_KEYPOINTS,
    Shape,
    image_marker_shapes,
    marker_shapes,
)
from movenet_ros.core.results import Pose

__all__ = ['NAMESPACE_BONES', 'NAMESPACE_KEYPOINTS', 'poses_to_image_markers',
           'poses_to_markers']


def _points(shape: Shape) -> list[Point]:
    return [Point(x=x, y=y, z=z) for x, y, z in shape.points.tolist()]


def _colour(rgba) -> ColorRGBA:
    r, g, b, a = rgba
    return ColorRGBA(r=r, g=g, b=b, a=a)


def _colours(shape: Shape) -> list[ColorRGBA]:
    return [_colour(rgba) for rgba in shape.colours]


def _duration(seconds: float) -> Duration:
    return Duration(sec=int(seconds), nanosec=int((seconds % 1) * 1e9))


def poses_to_markers(poses: list[Pose], header, camera: Pinhole, depth: float,
                     keypoint_threshold: float, line_width: float = DEFAULT_MARKER_LINE_WIDTH,
                     lifetime_s: float = 0.0) -> MarkerArray:
    """The MarkerArray for one image's poses (``header``: the image's, unchanged)."""
    markers = [Marker(header=header, action=Marker.DELETEALL)]
    lifetime = _duration(lifetime_s)
    for shape in marker_shapes(poses, camera, depth, keypoint_threshold, line_width):
        marker = Marker(header=header, ns=shape.ns, id=shape.id,
                        type=getattr(Marker, shape.kind), action=Marker.ADD, lifetime=lifetime,
                        points=_points(shape), colors=_colours(shape))
        marker.pose.orientation.w = 1.0
        marker.scale.x, marker.scale.y, marker.scale.z = shape.scale
        markers.append(marker)
    return MarkerArray(markers=markers)


def poses_to_image_markers(poses: list[Pose], header, keypoint_threshold: float,
                           image_wh: tuple[int, int]) -> tuple[ImageMarker, ImageMarker]:
    """(bones, keypoints) image markers of one image's poses, with the image's ``header``."""
    return tuple(
        ImageMarker(header=header, ns=shape.ns, id=shape.id, type=getattr(ImageMarker,
                    shape.kind), action=ImageMarker.ADD, scale=shape.scale[0],
                    outline_color=_colour(shape.colour), points=_points(shape),
                    outline_colors=_colours(shape))
        for shape in image_marker_shapes(poses, keypoint_threshold, image_wh))
