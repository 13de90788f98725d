# SPDX-License-Identifier: Apache-2.0
"""The tests run against the colcon-installed movenet_ros, the one holding movenet_ros.msg."""

import pathlib

import movenet_ros
from movenet_ros.msg import Keypoint, PersonPose, PersonPoseArray


def test_imports_the_installed_package_not_the_source_tree(repo):
    installed = pathlib.Path(movenet_ros.__file__).parent
    assert (repo / 'install') in installed.parents, installed
    assert (installed / 'msg').is_dir()


def test_messages_import_with_documented_constants():
    assert PersonPose.NOSE == 0
    assert PersonPose.RIGHT_ANKLE == 16
    assert PersonPose.ID_UNTRACKED == -1
    assert PersonPoseArray().persons == []
    assert Keypoint().position_valid is False
