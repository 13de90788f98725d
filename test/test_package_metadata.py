# SPDX-License-Identifier: Apache-2.0
"""package.xml, setup.cfg, CMakeLists.txt, the source and the README agree with each other."""

from __future__ import annotations

import ast
import configparser
import pathlib
import re
import xml.etree.ElementTree as ET

import pytest

# pip distribution -> rosdep key that provides it in a ROS install (None: no key, pip only).
ROSDEP_KEYS = {
    'ai-edge-litert': None,
    'mcap': None,
    'numpy': 'python3-numpy',
    'opencv-python-headless': 'python3-opencv',
    'PyYAML': 'python3-yaml',
    'rosbags': 'python3-rosbags-pip',  # rosdistro's pip key
    'tqdm': 'python3-tqdm',
}


@pytest.fixture(scope='module')
def package_xml(repo) -> ET.Element:
    return ET.parse(repo / 'package.xml').getroot()


@pytest.fixture(scope='module')
def setup_cfg(repo) -> configparser.ConfigParser:
    cfg = configparser.ConfigParser()
    cfg.read(repo / 'setup.cfg')
    return cfg


def source_version(repo: pathlib.Path) -> str:
    tree = ast.parse((repo / 'movenet_ros' / '__init__.py').read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and node.targets[0].id == '__version__':
            return node.value.value
    raise AssertionError('movenet_ros/__init__.py has no __version__')


def install_requires(setup_cfg) -> list[str]:
    return [r.strip() for r in setup_cfg['options']['install_requires'].splitlines() if r.strip()]


def console_scripts(setup_cfg) -> dict[str, str]:
    lines = setup_cfg.get('options.entry_points', 'console_scripts', fallback='').splitlines()
    return dict(tuple(part.strip() for part in line.split('=')) for line in lines if line.strip())


def test_versions_agree(repo, package_xml, setup_cfg):
    import movenet_ros

    version = package_xml.findtext('version')
    assert re.fullmatch(r'\d+\.\d+\.\d+', version)
    assert setup_cfg['metadata']['version'] == version
    assert source_version(repo) == version
    assert movenet_ros.__version__ == version  # the installed copy is current


def test_licence_agrees(package_xml, setup_cfg):
    assert package_xml.findtext('license') == setup_cfg['metadata']['license'] == 'Apache-2.0'


def test_python_dependencies_agree(repo, package_xml, setup_cfg):
    requires = install_requires(setup_cfg)
    assert sorted(requires) == sorted(ROSDEP_KEYS)
    exec_depends = {e.text for e in package_xml.iter('exec_depend')}
    for key in ROSDEP_KEYS.values():
        if key is not None:
            assert key in exec_depends, f'package.xml lacks <exec_depend>{key}</exec_depend>'
    pinned = {line.split('==')[0].lower() for line in
              (repo / 'requirements.lock').read_text().splitlines() if '==' in line}
    readme = (repo / 'README.md').read_text()
    for dist in requires:
        assert dist.lower() in pinned, f'{dist} is not pinned in requirements.lock'
        assert f'`{dist}`' in readme, f'README does not list the dependency {dist}'


def imported_top_level(paths) -> set[str]:
    """The top-level names that the Python files ``paths`` import (absolute imports)."""
    names = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split('.')[0])
            elif isinstance(node, ast.Import):
                names.update(alias.name.split('.')[0] for alias in node.names)
    return names


def ros_packages() -> set[str]:
    """Every ROS package of this environment (the ament index), and the two the README
    tells users to get from their ROS install because no registry here has them."""
    from ament_index_python.packages import get_packages_with_prefixes

    return (set(get_packages_with_prefixes()) | {'launch', 'launch_ros'}) - {'movenet_ros'}


def declared(package_xml, *tags: str) -> set[str]:
    return {e.text for tag in tags for e in package_xml.iter(tag)}


def test_ros_dependencies_cover_imports(repo, package_xml):
    """Every ROS package our code imports is declared in package.xml (the tests' own imports
    as test dependencies at least)."""
    implied = {'builtin_interfaces', 'rcl_interfaces'}  # come with rclpy / std_msgs
    runtime = [*(repo / 'movenet_ros').rglob('*.py'), *(repo / 'launch').glob('*.py')]
    missing = (imported_top_level(runtime) & ros_packages()) - implied - declared(
        package_xml, 'depend', 'exec_depend')
    assert not missing, f'package.xml does not declare as <exec_depend>: {sorted(missing)}'
    tests = (repo / 'test').rglob('*.py')
    missing = (imported_top_level(tests) & ros_packages()) - implied - declared(
        package_xml, 'depend', 'exec_depend', 'test_depend')
    assert not missing, f'package.xml does not declare as <test_depend>: {sorted(missing)}'


def test_cmake_packages_are_declared_and_pinned(repo, package_xml):
    """What CMakeLists.txt finds is in package.xml (test tools as <test_depend>) and its
    wheel is pinned in requirements.lock, so `make setup` and rosdep agree."""
    cmake = (repo / 'CMakeLists.txt').read_text()
    testing = cmake[cmake.index('if(BUILD_TESTING)'):]
    pinned = {line.split('==')[0].lower() for line in
              (repo / 'requirements.lock').read_text().splitlines() if '==' in line}
    build = declared(package_xml, 'buildtool_depend', 'build_depend', 'depend')
    for name in re.findall(r'find_package\((\w+) REQUIRED', cmake):
        tags = ('test_depend',) if f'find_package({name} ' in testing else ()
        assert name in build | declared(package_xml, *tags), f'package.xml lacks {name}'
        wheel = 'ros-jazzy-' + name.replace('_', '-')
        assert wheel in pinned, f'{wheel} (for find_package({name})) is not in requirements.lock'
    assert 'ament_add_pytest_test(' in testing  # the suite is registered for `colcon test`


def test_entry_points_exist_and_are_documented(repo, setup_cfg):
    readme = (repo / 'README.md').read_text()
    for name, target in console_scripts(setup_cfg).items():
        module, func = target.split(':')
        path = repo / (module.replace('.', '/') + '.py')
        tree = ast.parse(path.read_text())
        assert any(isinstance(n, ast.FunctionDef) and n.name == func for n in tree.body), target
        assert f'`{name}`' in readme, f'README does not document the command {name}'


def test_installed_programs_exist_and_are_documented(repo):
    cmake = (repo / 'CMakeLists.txt').read_text()
    readme = (repo / 'README.md').read_text()
    programs = re.findall(r'scripts/([\w.-]+)', cmake)
    for program in programs:
        script = repo / 'scripts' / program
        assert script.is_file() and script.stat().st_mode & 0o111, f'{script} not executable'
        assert f'`{program}`' in readme, f'README does not document the executable {program}'
    shipped = sorted(p.name for p in (repo / 'scripts').glob('*'))
    assert shipped == sorted(programs), 'every file in scripts/ is installed by CMakeLists.txt'
