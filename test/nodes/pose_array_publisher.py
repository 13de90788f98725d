# SPDX-License-Identifier: Apache-2.0
"""Publish ros_helpers.sample_pose_array() on `poses` every 100 ms (test peer process).

Usage: python pose_array_publisher.py [--empty]
"""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))

import rclpy
from rclpy.executors import ExternalShutdownException
from ros_helpers import sample_pose_array

from movenet_ros.msg import PersonPoseArray


def main() -> None:
    rclpy.init()
    node = rclpy.create_node('pose_array_publisher')
    msg = sample_pose_array()
    if '--empty' in sys.argv:
        msg.persons = []
    pub = node.create_publisher(PersonPoseArray, 'poses', 10)
    node.create_timer(0.1, lambda: pub.publish(msg))
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == '__main__':
    main()
