# SPDX-License-Identifier: Apache-2.0
"""Our messages cross real Fast DDS between two processes with every field intact."""

from __future__ import annotations

import pathlib
import signal
import subprocess
import sys

from ros_helpers import flatten, sample_pose_array, spin_until

from movenet_ros.msg import PersonPose, PersonPoseArray

PUBLISHER = pathlib.Path(__file__).parent / 'nodes' / 'pose_array_publisher.py'
# header (sec, nanosec, frame_id) + width, height, model, threshold + persons length
# + per person (id, score, 4 box values, keypoints length + 17 x (x, y, score, 3 position, valid)
# + 3 position, position_valid, 3 facing, facing_valid)
FIELDS_PER_PERSON = 6 + 1 + 17 * 7 + 8


def receive_from_publisher(ros_node, *args: str) -> PersonPoseArray:
    node, executor = ros_node
    received: list[PersonPoseArray] = []
    node.create_subscription(PersonPoseArray, 'poses', received.append, 10)
    proc = subprocess.Popen([sys.executable, str(PUBLISHER), *args])
    try:
        assert spin_until(node, executor, lambda: bool(received), timeout=20.0), \
            'no PersonPoseArray arrived from the publisher process within 20 s'
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    return received[0]


def test_every_field_round_trips(ros_node):
    expected = sample_pose_array()
    received = receive_from_publisher(ros_node)
    expected_fields = flatten(expected)
    assert len(expected_fields) == 7 + 1 + 2 * FIELDS_PER_PERSON  # the helper saw every field
    assert flatten(received) == expected_fields
    assert received == expected


def test_empty_persons_round_trips(ros_node):
    received = receive_from_publisher(ros_node, '--empty')
    assert received.persons == []
    assert received.header.frame_id == 'camera_optical_frame'
    assert (received.image_width, received.image_height) == (1768, 994)


def test_keypoint_index_constants_follow_coco_order():
    names = ['NOSE', 'LEFT_EYE', 'RIGHT_EYE', 'LEFT_EAR', 'RIGHT_EAR', 'LEFT_SHOULDER',
             'RIGHT_SHOULDER', 'LEFT_ELBOW', 'RIGHT_ELBOW', 'LEFT_WRIST', 'RIGHT_WRIST',
             'LEFT_HIP', 'RIGHT_HIP', 'LEFT_KNEE', 'RIGHT_KNEE', 'LEFT_ANKLE', 'RIGHT_ANKLE']
    assert [getattr(PersonPose, n) for n in names] == list(range(17))
    assert PersonPose.NUM_KEYPOINTS == 17
    assert len(PersonPose().keypoints) == 17
