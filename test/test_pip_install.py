# SPDX-License-Identifier: Apache-2.0
"""`pip install .` gives a user without ROS the core, the `movenet-ros` CLI and the models.

The wheel is built from a clean copy of this checkout and installed into a throwaway venv made
from the system Python, with no ROS anywhere on its paths (not --system-site-packages: no
ament prefix, no PYTHONPATH). Its dependencies come from the registry, pinned by
requirements.lock; that venv is kept in .cache/core-venv/ under a key of everything that
decides its contents, so later runs only build and reinstall the wheel.
"""

from __future__ import annotations

import ast
import configparser
import hashlib
import pathlib
import re
import shutil
import subprocess
import sys
import zipfile

from cli_helpers import frames_at, movenet_ros, split_jsonl
import cv2
from packaging_helpers import run, without_ros
import pytest

from movenet_ros.core.model import BUILTIN_MODELS

# Left out of the copy the wheel is built from: this checkout's build products and caches.
NOT_SOURCE = {'.git', '.venv', '.cache', 'build', 'install', 'log', 'out', '.ruff_cache',
              '.pytest_cache'}
# pip's words when the registry cannot be reached (the only reason to skip).
UNREACHABLE = re.compile(r'NewConnectionError|Temporary failure in name resolution|'
                         r'Network is unreachable|ConnectTimeout|ProxyError|Max retries exceeded')


def copy_source(repo: pathlib.Path, target: pathlib.Path) -> pathlib.Path:
    def ignore(folder: str, names: list[str]) -> set[str]:
        top = NOT_SOURCE if pathlib.Path(folder) == repo else set()
        return {n for n in names if n in top or n == '__pycache__' or n.endswith('.egg-info')}

    shutil.copytree(repo, target, ignore=ignore)
    return target


def build_requires(repo: pathlib.Path) -> list[str]:
    """[build-system] requires of pyproject.toml (tomllib is not in Python 3.10)."""
    found = re.search(r'^requires\s*=\s*(\[.*?\])', (repo / 'pyproject.toml').read_text(),
                      re.MULTILINE | re.DOTALL)
    assert found, 'pyproject.toml has no [build-system] requires'
    return ast.literal_eval(found.group(1))


def venv_key(repo: pathlib.Path) -> str:
    """Everything the cached venv's contents depend on."""
    cfg = configparser.ConfigParser()
    cfg.read(repo / 'setup.cfg')
    parts = [sys.version, cfg['options']['install_requires'], *build_requires(repo),
             (repo / 'requirements.lock').read_text()]
    return hashlib.sha256('\n'.join(parts).encode()).hexdigest()[:16]


def build_wheel(python: pathlib.Path, repo: pathlib.Path, tmp: pathlib.Path) -> pathlib.Path:
    """The wheel `pip install .` would build, from a clean copy of the checkout."""
    source = copy_source(repo, tmp / 'source')
    run([python, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation', '--quiet',
         '-w', tmp / 'dist', source], without_ros(python.parent.parent), tmp)
    (wheel,) = (tmp / 'dist').glob('movenet_ros-*.whl')
    return wheel


def pip_or_skip(python: pathlib.Path, args: list[str], cwd: pathlib.Path) -> None:
    done = subprocess.run([python, '-m', 'pip', *args], env=without_ros(python.parent.parent),
                          cwd=cwd, capture_output=True, text=True, timeout=600)
    if done.returncode != 0 and UNREACHABLE.search(done.stderr):
        pytest.skip(f'the package registry is unreachable: pip {" ".join(args[:2])} failed')
    assert done.returncode == 0, f'pip {" ".join(map(str, args))}:\n{done.stderr[-4000:]}'


@pytest.fixture(scope='module')
def core_venv(repo, tmp_path_factory) -> pathlib.Path:
    """A venv without ROS holding the core's dependencies and the build backend (cached)."""
    cache = repo / '.cache' / 'core-venv'
    venv = cache / venv_key(repo)
    if not (venv / '.complete').is_file():
        if cache.is_dir():
            shutil.rmtree(cache)  # venvs for other requirements are not used again
        partial = cache / f'{venv.name}.partial'  # a venv is built here, then renamed
        run([sys.executable, '-m', 'venv', partial], without_ros(partial), repo)
        python = partial / 'bin' / 'python'
        constraints = ['-c', repo / 'requirements.lock']
        tmp = tmp_path_factory.mktemp('first-wheel')
        pip_or_skip(python, ['install', '--quiet', *constraints, *build_requires(repo)], tmp)
        # The dependencies as the wheel's metadata declares them (then the wheel is removed:
        # each test run installs the wheel it builds).
        pip_or_skip(python, ['install', '--quiet', *constraints, build_wheel(python, repo, tmp)],
                    tmp)
        run([python, '-m', 'pip', 'uninstall', '--yes', '--quiet', 'movenet_ros'],
            without_ros(partial), tmp)
        partial.rename(venv)  # only `python -m` is used, so the venv's own path is not baked in
        (venv / '.complete').touch()
    return venv


@pytest.fixture(scope='module')
def wheel(core_venv, repo, tmp_path_factory) -> pathlib.Path:
    return build_wheel(core_venv / 'bin' / 'python', repo, tmp_path_factory.mktemp('wheel'))


@pytest.fixture(scope='module')
def installed(core_venv, wheel, tmp_path_factory) -> pathlib.Path:
    """The venv with this checkout's wheel installed; returns its python."""
    python = core_venv / 'bin' / 'python'
    cwd = tmp_path_factory.mktemp('pip')
    run([python, '-m', 'pip', 'install', '--quiet', '--no-deps', '--force-reinstall', wheel],
        without_ros(core_venv), cwd)
    run([python, '-m', 'pip', 'check'], without_ros(core_venv), cwd)  # every dependency is in
    return python


def python_in(python: pathlib.Path, code: str, cwd: pathlib.Path) -> subprocess.CompletedProcess:
    return subprocess.run([python, '-c', code], env=without_ros(python.parent.parent), cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_the_wheel_holds_the_core_the_cli_and_the_models_only(wheel, repo):
    with zipfile.ZipFile(wheel) as archive:
        names = [n for n in archive.namelist() if '.dist-info/' not in n]
        models = {pathlib.PurePath(n).name: hashlib.sha256(archive.read(n)).hexdigest()
                  for n in names if n.endswith('.tflite')}
        entry_points = archive.read(next(n for n in archive.namelist()
                                         if n.endswith('.dist-info/entry_points.txt'))).decode()
    source = repo / 'movenet_ros'
    expected = sorted(
        [f'movenet_ros/{p.name}' for p in source.glob('*.py')]
        + [f'movenet_ros/core/{p.name}' for p in (source / 'core').glob('*.py')]
        + [f'movenet_ros/models/{name}' for name in [*BUILTIN_MODELS.values(), 'README.md']]
        + [f'movenet_ros/message_definitions/{p.name}' for p in (repo / 'msg').glob('*.msg')])
    assert sorted(names) == expected  # no nodes/, no conversions/: they need ROS
    assert models == {name: hashlib.sha256((repo / 'models' / name).read_bytes()).hexdigest()
                      for name in BUILTIN_MODELS.values()}
    assert 'movenet-ros = movenet_ros.entry_points:movenet_ros_cli' in entry_points


def test_nothing_installed_needs_ros(installed, tmp_path):
    """Every installed module imports in a venv without ROS; the ROS glue is not there."""
    code = """
import importlib, pathlib, pkgutil, sys
for ros in ('rclpy', 'rosidl_runtime_py', 'std_msgs', 'movenet_ros.nodes',
            'movenet_ros.conversions', 'movenet_ros.msg'):
    try:
        importlib.import_module(ros)
    except ModuleNotFoundError:
        print('absent', ros)
import movenet_ros
for module in pkgutil.walk_packages(movenet_ros.__path__, 'movenet_ros.'):
    importlib.import_module(module.name)
    print('imported', module.name)
from movenet_ros.core.model import resolve_model
print('model', resolve_model('lightning'))
print('package', pathlib.Path(movenet_ros.__file__).parent)
"""
    done = python_in(installed, code, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = [line.split(' ', 1) for line in done.stdout.splitlines()]
    assert [value for key, value in lines if key == 'absent'] == [
        'rclpy', 'rosidl_runtime_py', 'std_msgs', 'movenet_ros.nodes',
        'movenet_ros.conversions', 'movenet_ros.msg']
    imported = {value for key, value in lines if key == 'imported'}
    assert {'movenet_ros.cli', 'movenet_ros.core.model', 'movenet_ros.core.tracking'} <= imported
    package = pathlib.Path(dict(lines)['package'])
    assert package.is_relative_to(installed.parent.parent / 'lib')  # the venv's site-packages
    assert pathlib.Path(dict(lines)['model']) == (
        package / 'models' / BUILTIN_MODELS['lightning'])


def test_the_installed_cli_finds_the_person_in_a_real_frame(installed, demo_video, tmp_path):
    """`movenet-ros infer frame.png --model lightning --json -` in the venv without ROS gives
    the same poses as the colcon-installed CLI: the walking woman of frame 90."""
    image = tmp_path / 'frame_090.png'
    cv2.imwrite(str(image), frames_at(demo_video, (90,))[90])
    program = installed.parent / 'movenet-ros'
    done = subprocess.run([program, 'infer', image, '--model', 'lightning', '--json', '-',
                           '--no-progress'], env=without_ros(installed.parent.parent),
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    (record,), summary = split_jsonl(done.stdout)
    assert record['model'] == 'singlepose_lightning' and summary['frames_with_people'] == 1
    (person,) = record['persons']
    x_min, y_min, x_max, y_max = person['box']
    assert 1080 < x_min < x_max < 1160 and 540 < y_min < 580 and 850 < y_max < 890
    assert sum(kp['score'] >= 0.3 for kp in person['keypoints']) >= 15

    reference = movenet_ros('infer', str(image), '--model', 'lightning', '--json', '-',
                            '--no-progress', cwd=tmp_path)
    assert reference.returncode == 0, reference.stderr[-3000:]
    (expected,), _ = split_jsonl(reference.stdout)
    assert record['persons'] == expected['persons']


def test_the_installed_cli_reports_its_version(installed, tmp_path):
    done = subprocess.run([installed.parent / 'movenet-ros', '--version'], cwd=tmp_path,
                          env=without_ros(installed.parent.parent), capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    import movenet_ros as colcon_installed

    assert done.stdout.strip() == f'movenet-ros {colcon_installed.__version__}'
