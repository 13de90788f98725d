# SPDX-License-Identifier: Apache-2.0
"""`colcon test` works for a ROS user who builds the package in a workspace.

The package is built from this checkout with BUILD_TESTING=ON into a throwaway build and
install base, in the environment a ROS user has: the ROS underlay (here .venv/) and not this
checkout's own install/. Then `colcon test` runs a small, fast subset of the suite (the whole
suite runs in `make test` already): the tests that check, from colcon's test working
directory, that they import the package from that install prefix, that the installed core and
CLI import without ROS, and that the metadata agrees with the installed version.
"""

from __future__ import annotations

import json
import pathlib
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

from ament_index_python.packages import get_package_prefix
from packaging_helpers import run, without_folders

SUBSET = ('fetch_demo_footage', 'test_installed_package', 'test_layout', 'test_package_metadata')


def test_colcon_test_runs_the_suite_against_the_install(repo, tmp_path):
    # The underlay only: without this package's install prefix and, for colcon's isolated
    # layout, the install base holding it (colcon marks install bases with COLCON_IGNORE).
    own_prefix = pathlib.Path(get_package_prefix('movenet_ros'))
    base = own_prefix.parent
    env = without_folders([own_prefix, *([base] if (base / 'COLCON_IGNORE').is_file() else [])])
    unseen = subprocess.run([sys.executable, '-c', 'import movenet_ros'], env=env, cwd=tmp_path,
                            capture_output=True, text=True)
    assert "No module named 'movenet_ros'" in unseen.stderr, 'the underlay has movenet_ros'
    colcon = shutil.which('colcon', path=env['PATH'])
    assert colcon, 'colcon is not on PATH (make setup installs it in .venv/)'
    bases = ['--build-base', tmp_path / 'build', '--install-base', tmp_path / 'install']
    quiet = ['--event-handlers', 'console_cohesion-', 'summary-', 'status-']
    run([colcon, '--log-base', tmp_path / 'log', 'build', '--base-paths', repo, *bases, *quiet,
         '--cmake-args', '-DBUILD_TESTING=ON', f'-DPython3_EXECUTABLE={sys.executable}'],
        env, tmp_path, timeout=600)
    build = tmp_path / 'build' / 'movenet_ros'

    # One CTest test per test file (so `--ctest-args -R <file>` picks files), plus the footage.
    listed = json.loads(run(['ctest', '--show-only=json-v1'], env, build).stdout)
    registered = {test['name'] for test in listed['tests']}
    expected = {p.stem for p in (repo / 'test').glob('test_*.py')} | {'fetch_demo_footage'}
    assert registered == expected

    run([colcon, '--log-base', tmp_path / 'log', 'test', '--base-paths', repo, *bases, *quiet,
         '--ctest-args', '-R', f'^({"|".join(SUBSET)})$'], env, tmp_path, timeout=600)
    results = build / 'test_results' / 'movenet_ros'
    assert sorted(p.name.split('.')[0] for p in results.glob('*.xml')) == sorted(SUBSET)
    for name in SUBSET[1:]:
        suite = ET.parse(results / f'{name}.xunit.xml').getroot().find('testsuite')
        counts = {key: int(suite.get(key)) for key in ('tests', 'failures', 'errors', 'skipped')}
        assert counts['tests'] > 0, (name, counts)
        assert counts['failures'] == counts['errors'] == counts['skipped'] == 0, (name, counts)
    summary = run([colcon, 'test-result', '--test-result-base', build], env, tmp_path).stdout
    assert ' 0 errors, 0 failures' in summary, summary

    # The tests ran in the build folder, where the source tree is not on sys.path.
    log = (build / 'ament_cmake_pytest' / 'test_installed_package.txt').read_text()
    assert f"invoking following command in '{build}'" in log

    # Plain ctest in the build folder (no colcon to add the install prefix) works too.
    (results / 'test_installed_package.xunit.xml').unlink()
    run(['ctest', '-R', '^test_installed_package$', '--output-on-failure'], env, build)
    assert (results / 'test_installed_package.xunit.xml').is_file()
