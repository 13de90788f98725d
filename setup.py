# SPDX-License-Identifier: Apache-2.0
"""pip install of the ROS-free core and its `movenet-ros` CLI (metadata lives in setup.cfg).

Inside a ROS 2 workspace the package is built by colcon with ament_cmake (CMakeLists.txt),
which never runs this file; this is for users who want the core without ROS.
"""

from setuptools import setup

setup()
