# SPDX-License-Identifier: Apache-2.0
"""Environments for the packaging tests: what a user has before installing movenet_ros.

The test session runs inside this checkout's environment (tools/env.sh: the colcon overlay
install/ on top of .venv/). A test of how the package installs must run its commands without
that overlay, or it would see the copy already installed instead of the one it just built.
"""

from __future__ import annotations

import os
import pathlib
import subprocess

# Variables holding search paths that an installed package or an ament prefix adds to.
SEARCH_PATHS = ('AMENT_PREFIX_PATH', 'CMAKE_PREFIX_PATH', 'COLCON_PREFIX_PATH', 'PYTHONPATH',
                'LD_LIBRARY_PATH', 'PATH')


def without_folders(folders: list[pathlib.Path], **override: str) -> dict[str, str]:
    """This process's environment with every search-path entry inside ``folders`` removed,
    and ``override`` set on top (an empty value unsets the variable)."""
    env = dict(os.environ)
    for name in SEARCH_PATHS:
        kept = [entry for entry in env.get(name, '').split(os.pathsep)
                if entry and not any(_inside(pathlib.Path(entry), f) for f in folders)]
        env[name] = os.pathsep.join(kept)
    env.update(override)
    return {name: value for name, value in env.items() if value}


def _inside(path: pathlib.Path, folder: pathlib.Path) -> bool:
    return path == folder or folder in path.parents


def run(args: list[str], env: dict[str, str], cwd: pathlib.Path, timeout: float = 300,
        ) -> subprocess.CompletedProcess:
    """Run ``args``; fail the test with the command's output when it fails."""
    done = subprocess.run([str(a) for a in args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)
    assert done.returncode == 0, (
        f'{" ".join(map(str, args))} exited {done.returncode}:\n'
        f'{done.stdout[-4000:]}\n{done.stderr[-4000:]}')
    return done


def without_ros(venv: pathlib.Path) -> dict[str, str]:
    """The environment of a user without ROS who activated ``venv``: no ament prefix, no
    colcon overlay, no extra module or library path (each of those could bring in rclpy)."""
    env = {name: value for name, value in os.environ.items()
           if name not in SEARCH_PATHS and not name.startswith(('ROS_', 'RMW_', 'PYTHON'))
           and name not in ('VIRTUAL_ENV', 'VIRTUAL_ENV_PROMPT', 'MOVENET_ROS_MODELS')}
    env['PATH'] = os.pathsep.join([str(venv / 'bin'), os.defpath.strip(os.pathsep)])
    return env
