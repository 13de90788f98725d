# SPDX-License-Identifier: Apache-2.0
"""MoveNet human pose estimation for ROS 2.

The modules here form a ROS-free core (model runner, geometry, decoding, drawing, CLI) that
never imports rclpy, and thin ROS 2 glue on top of it (the node and message conversions).
"""

__version__ = '0.1.0'
