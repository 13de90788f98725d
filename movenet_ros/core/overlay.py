# SPDX-License-Identifier: Apache-2.0
"""The geometry every pose overlay shares: which bones and keypoints are shown, and in what
colour and size, for the annotated image, the RViz markers (3D), the image markers (2D) and
the bags.

The node's messages (rclpy types, :mod:`movenet_ros.conversions`) and the bag writer's
(rosbags types, :mod:`movenet_ros.core.bag_messages`) are both built from these functions,
so a marker in a bag is the marker the node publishes, byte for byte.

Pixel conventions. Our poses put (0, 0) at the *centre* of the top-left pixel (OpenCV,
image_geometry). ``visualization_msgs/ImageMarker`` does not define its origin; Foxglove, the
viewer that draws it over a camera image, puts (0, 0) at the top-left *corner* of that pixel.
Image markers are therefore written in corner coordinates, ``x + 0.5, y + 0.5`` of our pixels
(:data:`IMAGE_MARKER_OFFSET`), so they land exactly on the keypoints there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from movenet_ros.core.camera import Pinhole
from movenet_ros.core.keypoints import SKELETON, Side, keypoint_side
from movenet_ros.core.results import Pose

# Left limbs orange, right limbs blue, centre (head, shoulder and hip lines) green.
SIDE_COLOURS_RGB: dict[Side, tuple[int, int, int]] = {
    Side.LEFT: (255, 140, 0),
    Side.RIGHT: (30, 144, 255),
    Side.CENTRE: (50, 205, 50),
}

NAMESPACE_BONES = 'bones'
NAMESPACE_KEYPOINTS = 'keypoints'
NAMESPACE_IDS = 'ids'
# RViz id labels: text height and gap above the top keypoint, in bone widths (0.1 m and
# 0.05 m at the default 0.02 m), in white.
LABEL_HEIGHT = 5.0
LABEL_GAP = 2.5
LABEL_RGBA = (1.0, 1.0, 1.0, 1.0)
# RViz markers: distance of the plane a 2D pose is drawn on (m) and bone width (m).
DEFAULT_MARKER_DEPTH = 2.0
DEFAULT_MARKER_LINE_WIDTH = 0.02
# RViz keypoint spheres: diameter in bone widths.
KEYPOINT_SIZE_PER_LINE_WIDTH = 2.5
# Our pixel centres -> the corner-origin pixels of image markers (see the module docstring).
IMAGE_MARKER_OFFSET = 0.5

RGBA = tuple[float, float, float, float]


def stroke_sizes(image_wh: tuple[int, int]) -> tuple[int, int]:
    """(line thickness, keypoint radius) in pixels for an image of ``image_wh``: strokes grow
    with the image so overlays read the same at any size (bones are drawn one pixel thicker).
    """
    longest = max(image_wh)
    return max(1, round(longest / 400)), max(2, round(longest / 250))


def side_rgba(side: Side) -> RGBA:
    """The side's drawing colour as RGBA in [0, 1], opaque (the message colour format)."""
    r, g, b = SIDE_COLOURS_RGB[side]
    return (r / 255.0, g / 255.0, b / 255.0, 1.0)


SIDE_RGBA: dict[Side, RGBA] = {side: side_rgba(side) for side in SIDE_COLOURS_RGB}


@dataclass(frozen=True)
class Skeleton:
    """One person's visible bones and keypoints, in our source-image pixels (or, for RViz
    markers, in metres: 3 columns).

    ``bones`` is (2B, 2): bone i runs from row 2i to row 2i + 1, as LINE_LIST markers want
    it; ``bone_sides`` has one side per row. ``keypoints`` (K, 2) are the visible keypoints
    in MoveNet order, ``keypoint_sides`` their sides.
    """

    bones: np.ndarray
    bone_sides: tuple[Side, ...]
    keypoints: np.ndarray
    keypoint_sides: tuple[Side, ...]


def skeleton(pose: Pose, keypoint_threshold: float) -> Skeleton:
    """The bones (both ends visible) and keypoints (visible) of ``pose``, as drawn."""
    return _select(pose.keypoints[:, :2].astype(np.float64), pose.visible(keypoint_threshold))


def _select(points: np.ndarray, visible: np.ndarray) -> Skeleton:
    """The bones between two ``visible`` keypoints and the visible keypoints of ``points``
    (17 rows, one per keypoint)."""
    ends = [i for a, b, _ in SKELETON if visible[a] and visible[b] for i in (a, b)]
    sides = tuple(side for a, b, side in SKELETON if visible[a] and visible[b]
                  for _ in (a, b))
    shown = np.flatnonzero(visible)
    width = points.shape[1]
    return Skeleton(bones=points[ends].reshape(-1, width), bone_sides=sides,
                    keypoints=points[shown].reshape(-1, width),
                    keypoint_sides=tuple(keypoint_side(int(i)) for i in shown))


@dataclass(frozen=True)
class Shape:
    """One marker's worth of points, ready to become a Marker or an ImageMarker.

    ``kind`` names the message's type constant ('LINE_LIST', 'SPHERE_LIST', 'POINTS' or
    'TEXT_VIEW_FACING'); ``points`` is (N, 3) (z = 0 for image markers), ``colours`` one RGBA
    per point, ``scale`` the marker's scale (image markers use ``scale[0]``: the line width or
    point diameter). ``colour`` is the one colour for viewers that ignore per-point colours
    (image markers' ``outline_color``). A text shape (``text`` not empty) has one point, where
    the text stands, and no per-point colours.
    """

    ns: str
    id: int
    kind: str
    points: np.ndarray
    colours: tuple[RGBA, ...]
    scale: tuple[float, float, float]
    colour: RGBA = SIDE_RGBA[Side.CENTRE]
    text: str = ''


def _colours(sides: tuple[Side, ...]) -> tuple[RGBA, ...]:
    return tuple(SIDE_RGBA[side] for side in sides)


def marker_shapes(poses: list[Pose], camera: Pinhole, depth: float, keypoint_threshold: float,
                  line_width: float = DEFAULT_MARKER_LINE_WIDTH,
                  label_ids: bool = False) -> list[Shape]:
    """RViz markers of ``poses``, in the image's optical frame: per person (id = its index) a
    LINE_LIST of bones and a SPHERE_LIST of keypoints. A pose lifted with depth
    (``pose.pose3d``) is drawn where it was measured, with only its keypoints that have a 3D
    position; a 2D pose has no distance, so each point is put on its viewing ray at ``depth``
    metres. ``label_ids``: a TEXT_VIEW_FACING shape (namespace 'ids') with each tracked
    person's id above their highest keypoint. Empty shapes are left out."""
    shapes = []
    joint = KEYPOINT_SIZE_PER_LINE_WIDTH * line_width
    for index, pose in enumerate(poses):
        visible = pose.visible(keypoint_threshold)
        if pose.pose3d is not None:
            xyz, visible = pose.pose3d.keypoints, visible & pose.pose3d.valid
        else:
            xyz = camera.points_at_depth(pose.keypoints[:, :2], depth)
        shown = _select(np.asarray(xyz, dtype=np.float64), visible)
        for ns, kind, points, sides, scale in (
                (NAMESPACE_BONES, 'LINE_LIST', shown.bones, shown.bone_sides,
                 (line_width, 0.0, 0.0)),
                (NAMESPACE_KEYPOINTS, 'SPHERE_LIST', shown.keypoints, shown.keypoint_sides,
                 (joint, joint, joint))):
            if len(points):
                shapes.append(Shape(ns, index, kind, points, _colours(sides), scale))
        if label_ids and pose.id >= 0 and len(shown.keypoints):
            shapes.append(_id_label(index, pose.id, shown.keypoints, line_width))
    return shapes


def _id_label(index: int, person_id: int, xyz: np.ndarray, line_width: float) -> Shape:
    """The person's id, centred above their highest keypoint (optical frame: up is -y)."""
    top = xyz[np.argmin(xyz[:, 1])]
    where = np.array([[xyz[:, 0].mean(), top[1] - (LABEL_GAP + LABEL_HEIGHT / 2) * line_width,
                       top[2]]])
    return Shape(NAMESPACE_IDS, index, 'TEXT_VIEW_FACING', where, (), (0.0, 0.0,
                 LABEL_HEIGHT * line_width), LABEL_RGBA, text=str(person_id))


def image_marker_shapes(poses: list[Pose], keypoint_threshold: float,
                        image_wh: tuple[int, int]) -> tuple[Shape, Shape]:
    """Everyone's bones (a LINE_LIST) and keypoints (POINTS) on an image of ``image_wh``, in
    corner-origin pixels (see the module docstring), sized like the annotated image's strokes.

    Always both shapes, empty when nobody is seen: each replaces the previous one in a viewer,
    so people who left never leave an overlay behind.
    """
    skeletons = [skeleton(p, keypoint_threshold) for p in poses]
    thickness, radius = stroke_sizes(image_wh)

    def points(field: str) -> np.ndarray:
        xy = np.concatenate([np.empty((0, 2)), *(getattr(s, field) for s in skeletons)])
        return np.column_stack([xy + IMAGE_MARKER_OFFSET, np.zeros(len(xy))])

    bones = Shape(NAMESPACE_BONES, 0, 'LINE_LIST', points('bones'),
                  _colours(tuple(side for s in skeletons for side in s.bone_sides)),
                  (float(thickness + 1), 0.0, 0.0))
    keypoints = Shape(NAMESPACE_KEYPOINTS, 0, 'POINTS', points('keypoints'),
                      _colours(tuple(side for s in skeletons for side in s.keypoint_sides)),
                      (float(2 * radius), 0.0, 0.0))
    return bones, keypoints
