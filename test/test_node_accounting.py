# SPDX-License-Identifier: Apache-2.0
"""Frame and stamp accounting over real DDS. Several cameras on one topic: losses are
counted per camera, so two healthy cameras report nothing lost (before issue 11, the two
interleaved sequence numbers made 6125 frames 'lost' out of 350). Unusable stamps: counted
and said in /diagnostics."""

from __future__ import annotations

import re

import cv2
from footage import read_frames
import pytest
import rclpy
from ros_helpers import RELIABLE, spin_until, start_node, stop_cleanly
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from movenet_ros.conversions.images import array_to_image_msg


@pytest.fixture(scope='module')
def small_frames(demo_video):
    return [cv2.resize(f, (320, 180)) for f in read_frames(demo_video, (90, 120)).values()]


def test_two_cameras_on_one_topic_lose_nothing(repo, camera, small_frames):
    node = start_node(repo, 'singlepose_lightning')
    other = rclpy.create_node('second_camera')
    try:
        camera.wait_for_node(node)
        # A second camera comes: its own node, so its own writer and sequence numbers.
        second = other.create_publisher(Image, 'image', RELIABLE)
        camera.executor.add_node(other)
        assert spin_until(camera.node, camera.executor,
                          lambda: second.get_subscription_count() > 0, 10.0)
        camera.spin(1.0)  # both writers matched, and the node's reader knows both
        for i in range(25):
            for publisher, frame_id in ((camera.image_pub, 'left'), (second, 'right')):
                msg = array_to_image_msg(small_frames[i % 2], 'bgr8', camera.header(frame_id))
                publisher.publish(msg)
                camera.spin(0.1)  # slower than the model: nothing to drop

        def settled() -> bool:  # every frame in, and none still being processed
            stats = camera.diagnostics[-1] if camera.diagnostics else {}
            received = int(stats.get('frames received', 0))
            return received - warm_ups >= 50 and received == \
                int(stats['frames processed']) + int(stats['frames dropped'])

        warm_ups = sum(p.header.frame_id == 'warm_up' for p in camera.poses)
        assert spin_until(camera.node, camera.executor, settled, 10.0), camera.diagnostics[-1:]
        stats = camera.diagnostics[-1]
        assert stats['frames lost upstream'] == '0', stats
        assert int(stats['frames received']) == 50 + warm_ups, stats
        assert int(stats['frames processed']) + int(stats['frames dropped']) == \
            int(stats['frames received'])
        assert stats['upstream loss'] == '2 publishers; counted per frame_id: left, right'
    finally:
        stop_cleanly(node)
        if other in camera.executor.get_nodes():
            camera.executor.remove_node(other)
        other.destroy_node()


def test_stamp_problems_are_reported(repo, camera, small_frames):
    """A repeated stamp and a zero one (a driver that never sets it): both handled by the
    core's stamp rule, both counted and said in /diagnostics."""
    node = start_node(repo, 'singlepose_lightning')
    try:
        camera.wait_for_node(node)
        stamped = camera.header()
        for header in (stamped, stamped, Header(frame_id='cam')):
            answers = len(camera.poses)
            camera.image_pub.publish(array_to_image_msg(small_frames[0], 'bgr8', header))
            assert spin_until(camera.node, camera.executor,
                              lambda n=answers: len(camera.poses) > n, 15.0)
            assert camera.poses[-1].header == header  # published with the stamp as it came

        def reported() -> bool:
            return bool(camera.statuses) and values(camera.statuses[-1])['stamp problems'] == '2'

        assert spin_until(camera.node, camera.executor, reported, 10.0), camera.diagnostics[-1:]
        assert values(camera.statuses[-1])['last stamp problem'] == \
            'stamp 0 (unset): the receipt time was used'
        assert any(re.fullmatch(r'[12] frame\(s\) with unusable stamps', s.message)
                   for s in camera.statuses), [s.message for s in camera.statuses]
    finally:
        stop_cleanly(node)


def values(status) -> dict[str, str]:
    return {kv.key: kv.value for kv in status.values}
