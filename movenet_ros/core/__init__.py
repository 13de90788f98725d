# SPDX-License-Identifier: Apache-2.0
"""The ROS-free core: model runner, geometry, decoding, tracking, smoothing, drawing, media.

Nothing in this package imports rclpy or any ``*_msgs`` package (a test enforces it), so it
installs and runs with pip alone and is tested with plain pytest on real frames.
"""
