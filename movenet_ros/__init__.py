# SPDX-License-Identifier: Apache-2.0
"""MoveNet human pose estimation for ROS 2.

``movenet_ros.core`` is the ROS-free core (model runner, geometry, decoding, tracking,
smoothing, drawing) and ``movenet_ros.cli`` its command line; neither imports rclpy, and they
are all that ``pip install .`` installs (with the built-in models, ``movenet_ros.models``).
``movenet_ros.conversions`` and ``movenet_ros.nodes`` are the ROS 2 glue, and
``movenet_ros.msg`` the message classes that colcon generates beside them.
"""

from pkgutil import extend_path

__version__ = '0.1.0'

# colcon installs the generated movenet_ros.msg (and its type support libraries) beside these
# modules, but a source checkout's movenet_ros/ has none of them. When Python finds the
# source folder first (`python` run from the repository root puts it on sys.path), every
# other movenet_ros/ on sys.path, such as the installed one, extends this package, so
# `from movenet_ros.msg import ...` works from any directory.
__path__ = extend_path(__path__, __name__)
