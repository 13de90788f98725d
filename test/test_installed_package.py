# SPDX-License-Identifier: Apache-2.0
"""The tests run against the installed movenet_ros (the one holding movenet_ros.msg).

`make test` imports the colcon install of this checkout (install/); `colcon test` in a ROS
workspace imports the install prefix of that workspace. Either way: the prefix that the ament
index resolves for the package, never the source tree.
"""

import pathlib

from ament_index_python.packages import get_package_prefix

import movenet_ros
from movenet_ros.msg import Keypoint, PersonPose, PersonPoseArray


def test_imports_the_installed_package_not_the_source_tree(repo):
    installed = pathlib.Path(movenet_ros.__file__).parent
    prefix = pathlib.Path(get_package_prefix('movenet_ros'))
    assert prefix in installed.parents, (installed, prefix)
    assert installed != repo / 'movenet_ros'
    assert (installed / 'msg').is_dir()
    assert list(movenet_ros.__path__) == [str(installed)]  # nothing of the source tree


def test_messages_import_with_documented_constants():
    assert PersonPose.NOSE == 0
    assert PersonPose.RIGHT_ANKLE == 16
    assert PersonPose.ID_UNTRACKED == -1
    assert PersonPoseArray().persons == []
    assert Keypoint().position_valid is False
