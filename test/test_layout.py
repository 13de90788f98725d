# SPDX-License-Identifier: Apache-2.0
"""The folder tree is the architecture: core/ and the CLI never reach for ROS.

Every core module (and the CLI, which runs without ROS) is imported in a fresh interpreter in
which rclpy, every ``*_msgs``/``*_interfaces`` package and the rosidl runtime are made
unimportable, so a module that imports any of them, directly or through another module, fails
here with the name of what it reached for. So are the ROS glue sub-packages (conversions/,
nodes/) and the generated messages, which the pip wheel of the core does not ship.
"""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

import movenet_ros

PACKAGE = pathlib.Path(movenet_ros.__file__).parent
# Modules outside core/ that must run without ROS too.
ROS_FREE_TOP_LEVEL = ('movenet_ros.cli', 'movenet_ros.cli_plan', 'movenet_ros.cli_bags',
                      'movenet_ros.cli_report', 'movenet_ros.entry_points')

BLOCKER = r"""
import importlib.abc, re, sys

ROS = re.compile(r'^(rclpy|rcl|rosidl\w*|rpyutils|ament_index_python|\w+_msgs|\w+_interfaces'
                 r'|launch|launch_ros|movenet_ros\.(conversions|nodes|msg))(\.|$)')


class NoRos(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if ROS.match(name):
            raise ImportError(f'ROS module {name!r} imported by a ROS-free module')
        return None


sys.meta_path.insert(0, NoRos())
import importlib
for module in sys.argv[1:]:
    importlib.import_module(module)
leaked = sorted(m for m in sys.modules if ROS.match(m))
assert not leaked, f'ROS modules loaded: {leaked}'
print('ok', len(sys.argv) - 1)
"""


def core_modules() -> list[str]:
    names = sorted(p.stem for p in (PACKAGE / 'core').glob('*.py') if p.stem != '__init__')
    return ['movenet_ros.core', *(f'movenet_ros.core.{n}' for n in names)]


def test_the_folders_show_the_split(repo):
    folders = sorted(p.name for p in PACKAGE.iterdir() if (p / '__init__.py').is_file())
    assert {'core', 'conversions', 'nodes'} <= set(folders), folders
    assert len(core_modules()) > 10
    # `pip install .` ships the top level with the core: ROS glue goes in a sub-package.
    top_level = {f'movenet_ros.{p.stem}' for p in (repo / 'movenet_ros').glob('*.py')}
    assert top_level == {'movenet_ros.__init__', *ROS_FREE_TOP_LEVEL}


@pytest.mark.parametrize('module', [*core_modules(), *ROS_FREE_TOP_LEVEL])
def test_module_imports_without_ros(module):
    run = subprocess.run([sys.executable, '-c', BLOCKER, module], capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0 and 'ok 1' in run.stdout, run.stderr[-3000:]


def test_the_blocker_catches_a_ros_import():
    """The check itself can fail: a node module does import rclpy and is caught."""
    run = subprocess.run([sys.executable, '-c', BLOCKER, 'movenet_ros.nodes.movenet_node'],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode != 0
    assert 'imported by a ROS-free module' in run.stderr
