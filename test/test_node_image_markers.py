# SPDX-License-Identifier: Apache-2.0
"""movenet_node's 2D overlay over real Fast DDS: ``image_markers/bones`` (LINE_LIST) and
``image_markers/keypoints`` (POINTS), checked point by point against the PersonPoseArray the
node published for the same image (the node runs as its own process)."""

from __future__ import annotations

from footage import read_frames
import numpy as np
from ros_helpers import RELIABLE, set_parameters, spin_until, start_node, stop_cleanly
from visualization_msgs.msg import ImageMarker

from movenet_ros.conversions.images import array_to_image_msg
from movenet_ros.core.keypoints import SKELETON, keypoint_side
from movenet_ros.core.overlay import SIDE_RGBA, stroke_sizes

FRAME = 70  # two people (MultiPose finds both at the config's 256 px)
THRESHOLD = 0.3  # the config files' keypoint_threshold


def _expected(poses) -> tuple[np.ndarray, list, np.ndarray, list]:
    """(bone ends, their sides, keypoints, their sides) from the published poses, in
    corner-origin pixels: our coordinates are pixel centres, ImageMarker's origin is the
    top-left corner of the image."""
    ends, end_sides, points, point_sides = [], [], [], []
    for person in poses.persons:
        xy = np.array([(k.x, k.y) for k in person.keypoints], np.float64) + 0.5
        seen = [k.score >= THRESHOLD for k in person.keypoints]
        for a, b, side in SKELETON:
            if seen[a] and seen[b]:
                ends += [xy[a], xy[b]]
                end_sides += [side, side]
        for i in np.flatnonzero(seen):
            points.append(xy[i])
            point_sides.append(keypoint_side(int(i)))
    return (np.array(ends).reshape(-1, 2), end_sides, np.array(points).reshape(-1, 2),
            point_sides)


def _check(marker: ImageMarker, kind: int, xy: np.ndarray, sides: list, scale: float,
           header) -> None:
    assert marker.header == header
    assert (marker.type, marker.action, marker.scale) == (kind, ImageMarker.ADD, scale)
    got = np.array([(p.x, p.y, p.z) for p in marker.points]).reshape(-1, 3)
    np.testing.assert_allclose(got[:, :2], xy, rtol=0, atol=1e-4)  # float32 poses
    assert not got[:, 2].any()
    np.testing.assert_allclose(  # ColorRGBA is float32
        np.array([(c.r, c.g, c.b, c.a) for c in marker.outline_colors]).reshape(-1, 4),
        np.array([SIDE_RGBA[s] for s in sides]).reshape(-1, 4), rtol=0, atol=1e-6)


def test_image_markers_sit_on_the_published_keypoints(repo, camera, demo_video):
    frame = read_frames(demo_video, (FRAME,))[FRAME]
    received: dict[str, list[ImageMarker]] = {'bones': [], 'keypoints': []}
    subs = [camera.node.create_subscription(ImageMarker, f'image_markers/{name}',
                                            messages.append, RELIABLE)
            for name, messages in received.items()]
    node = start_node(repo, 'multipose')
    try:
        camera.wait_for_node(node)
        assert spin_until(camera.node, camera.executor,
                          lambda: all(s.get_publisher_count() for s in subs), 10.0)

        def of(msg, name):
            return [m for m in received[name] if m.header == msg.header]

        msg = array_to_image_msg(frame, 'bgr8', camera.header('my_cam_frame'))
        poses = camera.send_and_wait(msg)
        assert len(poses.persons) == 2
        assert spin_until(camera.node, camera.executor,
                          lambda: of(msg, 'bones') and of(msg, 'keypoints'), 10.0)
        (bones,), (keypoints,) = of(msg, 'bones'), of(msg, 'keypoints')
        ends, end_sides, points, point_sides = _expected(poses)
        assert len(points) > 17 and len(ends) > 2 * 16  # more than one person's
        thickness, radius = stroke_sizes((1768, 994))  # the annotated image's strokes
        _check(bones, ImageMarker.LINE_LIST, ends, end_sides, thickness + 1, msg.header)
        _check(keypoints, ImageMarker.POINTS, points, point_sides, 2 * radius, msg.header)
        assert (bones.ns, keypoints.ns) == ('bones', 'keypoints')
        # Nobody in the image: both markers still come, empty, so the overlay is cleared.
        empty = array_to_image_msg(np.zeros_like(frame), 'bgr8', camera.header('my_cam_frame'))
        assert not camera.send_and_wait(empty).persons
        assert spin_until(camera.node, camera.executor,
                          lambda: of(empty, 'bones') and of(empty, 'keypoints'), 10.0)
        assert not of(empty, 'bones')[0].points and not of(empty, 'keypoints')[0].points
        # Switched off at run time: poses go on, image markers stop.
        assert [r.successful for r in set_parameters(camera, publish_image_markers=False)] \
            == [True]
        off = array_to_image_msg(frame, 'bgr8', camera.header('my_cam_frame'))
        assert camera.send_and_wait(off).persons
        camera.spin(0.5)  # published right after the poses, had they been built
        assert not of(off, 'bones') and not of(off, 'keypoints')
    finally:
        stop_cleanly(node)
