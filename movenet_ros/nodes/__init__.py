# SPDX-License-Identifier: Apache-2.0
"""The ROS 2 nodes (movenet_node, video_publisher) and their parameter/diagnostics helpers.

Nodes are thin glue: message -> core call -> messages. The installed executables in
``lib/movenet_ros`` start them through :mod:`movenet_ros.entry_points`.
"""
