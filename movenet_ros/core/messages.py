# SPDX-License-Identifier: Apache-2.0
"""Core results -> ROS messages, written once for every message library.

The node publishes rclpy messages; the bag writer, which must run without ROS, writes rosbags
messages. Both are built here, through a :class:`MessageFactory` that makes a message of a
named type from keyword fields (:class:`movenet_ros.conversions.factory.RclpyFactory` for
rclpy, :class:`movenet_ros.core.bag_messages.BagTypes` for rosbags), so a pose, marker or image
marker in a bag is the one the node publishes, byte for byte (the tests compare them).
"""

from __future__ import annotations

from typing import Any, Protocol

from movenet_ros.core.camera import Pinhole
from movenet_ros.core.overlay import (
    DEFAULT_MARKER_LINE_WIDTH,
    Shape,
    image_marker_shapes,
    marker_shapes,
)
from movenet_ros.core.results import Pose, Pose3D, PoseResult

POSE_ARRAY = 'movenet_ros/msg/PersonPoseArray'
PERSON_POSE = 'movenet_ros/msg/PersonPose'
KEYPOINT = 'movenet_ros/msg/Keypoint'
MARKER_ARRAY = 'visualization_msgs/msg/MarkerArray'
MARKER = 'visualization_msgs/msg/Marker'
IMAGE_MARKER = 'visualization_msgs/msg/ImageMarker'
POINT = 'geometry_msgs/msg/Point'
COLOUR = 'std_msgs/msg/ColorRGBA'


class MessageFactory(Protocol):
    """Makes messages of a named ROS 2 type ('pkg/msg/Name') from keyword fields; fields not
    given get their default values, as rclpy's message constructors do."""

    def new(self, msgtype: str, **fields: Any) -> Any: ...

    def constant(self, msgtype: str, name: str) -> Any: ...


def pose_msg(make: MessageFactory, pose: Pose) -> Any:
    """A ``movenet_ros/PersonPose`` of ``pose`` (all 17 keypoints, whatever their score), with
    its 3D fields when it was lifted with depth (``pose.pose3d``)."""
    msg = make.new(PERSON_POSE, id=int(pose.id), score=float(pose.score))
    msg.x_min, msg.y_min, msg.x_max, msg.y_max = (float(v) for v in pose.box)
    # The 17 keypoints exist already: fill them in, from one tolist() instead of 51 NumPy
    # scalar conversions.
    for kp, (x, y, score) in zip(msg.keypoints, pose.keypoints.tolist(), strict=True):
        kp.x, kp.y, kp.score = x, y, score
    if pose.pose3d is not None:
        fill_person_3d(msg, pose.pose3d)
    return msg


def fill_person_3d(msg: Any, pose3d: Pose3D) -> Any:
    """Write ``pose3d`` into a ``movenet_ros/PersonPose``: every Keypoint.position and
    position_valid, and the person's position and facing with their flags. What was not
    measured stays zero and false."""
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


def pose_array_msg(make: MessageFactory, result: PoseResult, header: Any) -> Any:
    """The ``movenet_ros/PersonPoseArray`` for one processed image; ``header`` is the image's."""
    width, height = result.image_size
    return make.new(POSE_ARRAY, header=header, image_width=int(width), image_height=int(height),
                    model=result.model, keypoint_threshold=float(result.keypoint_threshold),
                    persons=[pose_msg(make, p) for p in result.poses])


def _points(make: MessageFactory, shape: Shape) -> list:
    return [make.new(POINT, x=x, y=y, z=z) for x, y, z in shape.points.tolist()]


def _colours(make: MessageFactory, shape: Shape) -> list:
    """One colour message per point; points of one colour share one message, as the few
    colours repeat."""
    made = {rgba: make.new(COLOUR, r=rgba[0], g=rgba[1], b=rgba[2], a=rgba[3])
            for rgba in set(shape.colours)}
    return [made[rgba] for rgba in shape.colours]


def marker_array_msg(make: MessageFactory, poses: list[Pose], header: Any, camera: Pinhole,
                     depth: float, keypoint_threshold: float,
                     line_width: float = DEFAULT_MARKER_LINE_WIDTH,
                     lifetime_s: float = 0.0, label_ids: bool = False) -> Any:
    """The ``visualization_msgs/MarkerArray`` of one image's poses: a DELETEALL marker first
    (people who left never leave markers behind), then the shapes of
    :func:`movenet_ros.core.overlay.marker_shapes`."""
    markers = [make.new(MARKER, header=header, action=make.constant(MARKER, 'DELETEALL'))]
    for shape in marker_shapes(poses, camera, depth, keypoint_threshold, line_width,
                               label_ids):
        marker = make.new(MARKER, header=header, ns=shape.ns, id=shape.id,
                          type=make.constant(MARKER, shape.kind),
                          action=make.constant(MARKER, 'ADD'))
        if shape.text:  # placed by its pose, in one colour
            marker.text = shape.text
            position = marker.pose.position
            position.x, position.y, position.z = shape.points[0].tolist()
            marker.color.r, marker.color.g, marker.color.b, marker.color.a = shape.colour
        else:
            marker.points, marker.colors = _points(make, shape), _colours(make, shape)
        marker.pose.orientation.w = 1.0
        marker.scale.x, marker.scale.y, marker.scale.z = shape.scale
        marker.lifetime.sec, marker.lifetime.nanosec = (int(lifetime_s),
                                                        int((lifetime_s % 1) * 1e9))
        markers.append(marker)
    return make.new(MARKER_ARRAY, markers=markers)


def image_marker_msgs(make: MessageFactory, poses: list[Pose], header: Any,
                      keypoint_threshold: float, image_wh: tuple[int, int]) -> tuple[Any, Any]:
    """(bones, keypoints) ``visualization_msgs/ImageMarker`` of one image's poses, in
    corner-origin pixels (see :mod:`movenet_ros.core.overlay`), with the image's header."""
    messages = []
    for shape in image_marker_shapes(poses, keypoint_threshold, image_wh):
        marker = make.new(IMAGE_MARKER, header=header, ns=shape.ns, id=shape.id,
                          type=make.constant(IMAGE_MARKER, shape.kind),
                          action=make.constant(IMAGE_MARKER, 'ADD'), scale=shape.scale[0],
                          points=_points(make, shape), outline_colors=_colours(make, shape))
        oc = marker.outline_color
        oc.r, oc.g, oc.b, oc.a = shape.colour
        messages.append(marker)
    return tuple(messages)
