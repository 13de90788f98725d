# SPDX-License-Identifier: Apache-2.0
"""The README's environment, used the way the README says: `source tools/env.sh`, then Python.

Each test starts a login-less bash with a minimal environment (as a new terminal has), sources
tools/env.sh and runs the README's commands, from the repository root (where the source folder
movenet_ros/ is on sys.path), from the test folder and from a folder outside the checkout.
"""

from __future__ import annotations

import os
import pathlib
import subprocess

import pytest

import movenet_ros

# The variables env.sh and the colcon overlay set.
PATH_VARIABLES = ('AMENT_PREFIX_PATH', 'CMAKE_PREFIX_PATH', 'COLCON_PREFIX_PATH', 'PYTHONPATH',
                  'LD_LIBRARY_PATH', 'PATH')
SYSTEM_PATH = '/usr/local/bin:/usr/bin:/bin'
UNDERLAY = '/opt/ros/underlay'  # a user's own ament prefix, set before env.sh

SHOW = ' '.join(f'"{name}=${{{name}-<unset>}}"' for name in PATH_VARIABLES)
README_COMMANDS = """
python -c 'from movenet_ros.msg import PersonPoseArray; import movenet_ros.msg as m; \
print("msg", m.__file__)'
movenet-ros --version
python -c 'import movenet_ros.nodes.movenet_node as m; print("node", m.__file__)'
"""


def bash(script: str, cwd: pathlib.Path, repo: pathlib.Path) -> subprocess.CompletedProcess:
    env = {'HOME': os.environ.get('HOME', '/root'), 'PATH': SYSTEM_PATH, 'LANG': 'C.UTF-8',
           'AMENT_PREFIX_PATH': UNDERLAY, 'REPO': str(repo)}
    return subprocess.run(['bash', '--noprofile', '--norc', '-c', 'set -e\n' + script],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def variables(stdout: str, section: str) -> dict[str, str]:
    """The NAME=value lines printed after the line ``section``."""
    lines = stdout.split(f'{section}\n', 1)[1].splitlines()[:len(PATH_VARIABLES)]
    return dict(line.split('=', 1) for line in lines)


@pytest.fixture(params=['repository root', 'test folder', 'elsewhere'])
def cwd(request, repo, tmp_path) -> pathlib.Path:
    if not (repo / 'install' / 'setup.bash').is_file() or not (repo / '.venv').is_dir():
        pytest.skip('tools/env.sh enters the environment `make setup` builds, and this '
                    'checkout has none (built by colcon in a workspace, say)')
    return {'repository root': repo, 'test folder': repo / 'test',
            'elsewhere': tmp_path}[request.param]


def test_readme_commands_work_from_any_directory(repo, cwd):
    run = bash('source "$REPO/tools/env.sh"\n' + README_COMMANDS, cwd, repo)
    assert run.returncode == 0, run.stderr[-3000:]
    lines = dict(line.split(' ', 1) for line in run.stdout.splitlines())
    install = repo / 'install' / 'movenet_ros'
    assert install in pathlib.Path(lines['msg']).parents, lines['msg']
    assert lines['movenet-ros'] == movenet_ros.__version__
    assert pathlib.Path(lines['node']).name == 'movenet_node.py'


def test_sourcing_twice_or_in_a_child_shell_changes_nothing(repo, cwd):
    script = f"""
source "$REPO/tools/env.sh"
echo once; printf '%s\\n' {SHOW}
source "$REPO/tools/env.sh"
echo twice; printf '%s\\n' {SHOW}
bash --noprofile --norc -c 'source "$REPO/tools/env.sh"; echo child; printf "%s\\n" {SHOW}'
"""
    run = bash(script, cwd, repo)
    assert run.returncode == 0, run.stderr[-3000:]
    once = variables(run.stdout, 'once')
    assert variables(run.stdout, 'twice') == once
    assert variables(run.stdout, 'child') == once
    install, venv = repo / 'install' / 'movenet_ros', repo / '.venv'
    # The overlay first, then the venv (the ROS 2 wheels), then what the user had.
    assert once['AMENT_PREFIX_PATH'] == f'{install}:{venv}:{UNDERLAY}'
    assert once['CMAKE_PREFIX_PATH'] == f'{install}:{venv}'
    assert once['PATH'] == f'{install}/bin:{venv}/bin:{SYSTEM_PATH}'
    for name in PATH_VARIABLES:
        assert '' not in once[name].split(':'), f'{name} has an empty entry: {once[name]}'


def test_a_checkout_without_a_build_gets_told_what_to_run(repo, tmp_path):
    """env.sh of a checkout that `make setup` has not built says so and changes nothing."""
    (tmp_path / 'tools').mkdir()
    (tmp_path / 'tools' / 'env.sh').write_text((repo / 'tools' / 'env.sh').read_text())
    run = bash('source tools/env.sh || echo "status $?"; echo "$AMENT_PREFIX_PATH"',
               tmp_path, repo)
    assert "run 'make setup'" in run.stderr
    assert run.stdout.splitlines() == ['status 1', UNDERLAY]
