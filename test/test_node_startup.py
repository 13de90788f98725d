# SPDX-License-Identifier: Apache-2.0
"""Start-up of the installed node programs: malformed ROS arguments end them with exit code
2 and one line saying why (before issue 11: an RCLError traceback from rclpy.init)."""

from __future__ import annotations

import subprocess

import pytest
from ros_helpers import installed_program


@pytest.mark.parametrize('program', ['movenet_node', 'video_publisher'])
@pytest.mark.parametrize('args,why', [
    (['-p', '-p'], "Couldn't parse parameter override rule: '-p -p'"),
    (['-r'], "Couldn't parse trailing -r flag"),
    (['--params-file', '/no/such/file.yaml'], "Couldn't parse params file: "
                                             "'--params-file /no/such/file.yaml'"),
])
def test_malformed_ros_arguments_exit_2_with_one_line(program, args, why):
    run = subprocess.run([str(installed_program(program)), '--ros-args', *args],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2, run
    assert run.stdout == ''
    assert run.stderr.count('\n') == 1, run.stderr
    assert run.stderr.startswith(f'[{program}] invalid ROS arguments: {why}'), run.stderr
    assert 'Traceback' not in run.stderr and '.c:' not in run.stderr, run.stderr
