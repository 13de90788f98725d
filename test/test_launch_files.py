# SPDX-License-Identifier: Apache-2.0
"""The launch files are consistent with each other and with what the package installs.

launch / launch_ros are not installable from the registries this project uses, so most of
these tests read the launch files as Python syntax trees: declared arguments and their
descriptions and choices, the launch configurations used, the arguments passed to included
launch files, the executables started and the share/ files referenced. When launch_ros is
importable (a ROS install), the last test also builds the real launch descriptions.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
import dataclasses
import importlib.util
import itertools
import pathlib
import re

import pytest
import yaml

REPO = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = 'movenet_ros'
LAUNCH_FILES = sorted(p.name for p in (REPO / 'launch').glob('*.launch.py'))
SHARE = '<share>'            # stands for share/movenet_ros when paths are resolved
UNKNOWN = '<unknown>'        # a part of a path that is not understood
NOT_LITERAL = object()       # what LaunchFile.constant() gives for non-literal expressions
# share/ files the launch files must reference (and so must ship).
REQUIRED_SHARE_FILES = {
    'config/singlepose_lightning.yaml', 'config/singlepose_thunder.yaml',
    'config/multipose.yaml', 'config/movenet.rviz', 'config/fastdds_large_images.xml',
    'launch/movenet.launch.py',
}


def call_name(node: ast.AST) -> str | None:
    """`f` for calls of f(...) and of module.f(...), else None."""
    if not isinstance(node, ast.Call):
        return None
    if isinstance(node.func, ast.Name):
        return node.func.id
    if isinstance(node.func, ast.Attribute):
        return node.func.attr
    return None


def keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


@dataclasses.dataclass
class Argument:
    name: str
    default: ast.expr | None
    description: str | None
    choices: list[str] | None


class LaunchFile:
    """One launch file's syntax tree and what can be read from it without running it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.path = REPO / 'launch' / name
        self.tree = ast.parse(self.path.read_text(), filename=str(self.path))
        # Names bound by plain assignments, module level first, then inside functions.
        self.names: dict[str, ast.expr] = {}
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        self.names[target.id] = node.value
        self.arguments: dict[str, Argument] = {}
        for call in self.calls('DeclareLaunchArgument'):
            name = self.constant(call.args[0] if call.args else keyword(call, 'name'))
            assert isinstance(name, str), f'{name}: DeclareLaunchArgument without a literal name'
            assert name not in self.arguments, f'{self.name}: argument {name} declared twice'
            description = self.constant(keyword(call, 'description'))
            choices_node = keyword(call, 'choices')
            choices = None if choices_node is None else self.constant(choices_node)
            self.arguments[name] = Argument(name, keyword(call, 'default_value'),
                                            description, choices)

    def calls(self, *names: str) -> Iterator[ast.Call]:
        return (n for n in ast.walk(self.tree) if call_name(n) in names)

    def node_actions(self) -> Iterator[ast.Call]:
        """launch_ros Node and LifecycleNode actions."""
        return self.calls('Node', 'LifecycleNode')

    def resolve(self, node: ast.expr | None) -> ast.expr | None:
        """Follow names to the expression last assigned to them."""
        seen = set()
        while isinstance(node, ast.Name) and node.id in self.names and node.id not in seen:
            seen.add(node.id)
            node = self.names[node.id]
        return node

    def constant(self, node: ast.expr | None):
        """The literal value of a (named) constant, list of constants or None."""
        node = self.resolve(node)
        if node is None:
            return None
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, (ast.List, ast.Tuple)):
            values = [self.constant(e) for e in node.elts]
            return values if all(isinstance(v, str) for v in values) else NOT_LITERAL
        return NOT_LITERAL

    def launch_configurations(self) -> set[str]:
        names = set()
        for call in self.calls('LaunchConfiguration'):
            value = self.constant(call.args[0] if call.args else keyword(call, 'variable_name'))
            names.add(value)
        return names

    def values(self, node: ast.expr | None) -> list[str]:
        """Every string an expression of substitutions can take.

        A LaunchConfiguration with choices takes each choice; FindPackageShare of this package
        becomes SHARE; anything not understood becomes UNKNOWN.
        """
        node = self.resolve(node)
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return [node.value]
        if isinstance(node, (ast.List, ast.Tuple)):   # substitutions concatenate
            parts = [self.values(e) for e in node.elts]
            return [''.join(p) for p in itertools.product(*parts)]
        name = call_name(node)
        if name == 'FindPackageShare':
            package = self.constant(node.args[0] if node.args else keyword(node, 'package'))
            return [SHARE if package == PACKAGE else f'<share of {package}>']
        if name == 'PathJoinSubstitution':
            elements = self.resolve(node.args[0])
            if isinstance(elements, (ast.List, ast.Tuple)):
                parts = [self.values(e) for e in elements.elts]
                return ['/'.join(p) for p in itertools.product(*parts)]
        if name == 'LaunchConfiguration':
            argument = self.arguments.get(self.constant(node.args[0]))
            if argument and isinstance(argument.choices, list):
                return list(argument.choices)
            return [f'<{self.constant(node.args[0])}>']
        return [UNKNOWN]

    def path_expressions(self) -> Iterator[ast.expr]:
        """Expressions that name files: argument defaults, process arguments and
        environment values, launch file sources, parameter files."""
        for argument in self.arguments.values():
            if argument.default is not None:
                yield argument.default
        for call in self.calls('PythonLaunchDescriptionSource'):
            yield call.args[0]
        for call in self.node_actions():
            for key in ('arguments', 'parameters'):
                items = self.resolve(keyword(call, key))
                if isinstance(items, (ast.List, ast.Tuple)):
                    yield from (e for e in items.elts if not isinstance(e, ast.Dict))
            env = self.resolve(keyword(call, 'additional_env'))
            if isinstance(env, ast.Dict):
                yield from env.values

    def share_files(self) -> set[str]:
        """share/movenet_ros-relative paths of every file referenced through FindPackageShare."""
        files = set()
        for expression in self.path_expressions():
            for value in self.values(expression):
                if value.startswith(SHARE + '/'):
                    files.add(value[len(SHARE) + 1:])
        return files


@pytest.fixture(scope='module', params=LAUNCH_FILES)
def launch_file(request) -> LaunchFile:
    return LaunchFile(request.param)


@pytest.fixture(scope='module')
def launch_files() -> dict[str, LaunchFile]:
    return {name: LaunchFile(name) for name in LAUNCH_FILES}


def installed_share_dirs() -> set[str]:
    """Top-level folders CMakeLists.txt installs into share/movenet_ros."""
    cmake = (REPO / 'CMakeLists.txt').read_text()
    dirs = set()
    # foreach(dir launch config ...) install(DIRECTORY ${dir} DESTINATION share/...) endforeach
    loops = re.findall(r'foreach\s*\(\s*(\w+)\s+([^)]*)\)(.*?)endforeach', cmake, re.DOTALL)
    for variable, items, body in loops:
        pattern = (r'install\s*\(\s*DIRECTORY\s+\$\{' + variable +
                   r'\}/?\s+DESTINATION\s+share/\$\{PROJECT_NAME\}')
        if re.search(pattern, body):
            dirs.update(items.split())
    for body in re.findall(r'install\s*\(\s*DIRECTORY\s+([^)]*)\)', cmake):
        words = body.split()
        if 'DESTINATION' in words and words[words.index('DESTINATION') + 1] == \
                'share/${PROJECT_NAME}':
            dirs.update(w.rstrip('/') for w in words[:words.index('DESTINATION')]
                        if not w.startswith('$'))
    return dirs


def installed_programs() -> set[str]:
    """scripts/ files CMakeLists.txt installs into lib/movenet_ros (where launch_ros looks)."""
    cmake = (REPO / 'CMakeLists.txt').read_text()
    programs = set()
    for body in re.findall(r'install\s*\(\s*PROGRAMS\s+([^)]*)\)', cmake):
        words = body.split()
        if 'DESTINATION' in words and \
                words[words.index('DESTINATION') + 1] == 'lib/${PROJECT_NAME}':
            programs.update(re.findall(r'scripts/([\w.-]+)', body))
    return programs


def test_launch_files_found():
    assert {'movenet.launch.py', 'demo.launch.py'} <= set(LAUNCH_FILES)


def test_defines_generate_launch_description(launch_file):
    functions = [n for n in launch_file.tree.body if isinstance(n, ast.FunctionDef)]
    assert 'generate_launch_description' in {f.name for f in functions}
    assert launch_file.arguments, f'{launch_file.name} declares no launch arguments'


def test_every_argument_has_a_description(launch_file):
    for argument in launch_file.arguments.values():
        assert isinstance(argument.description, str) and argument.description.strip(), \
            f'{launch_file.name}: argument {argument.name} has no description'


def test_defaults_are_among_choices(launch_file):
    for argument in launch_file.arguments.values():
        if argument.choices is None:
            continue
        assert isinstance(argument.choices, list) and argument.choices, \
            f'{launch_file.name}: choices of {argument.name} are not a literal list'
        default = launch_file.constant(argument.default)
        assert default is None or default in argument.choices, \
            f'{launch_file.name}: default {default!r} of {argument.name} not in its choices'


def test_launch_configurations_are_declared(launch_file):
    used = launch_file.launch_configurations()
    assert all(isinstance(n, str) for n in used), 'LaunchConfiguration without a literal name'
    undeclared = used - set(launch_file.arguments)
    assert not undeclared, f'{launch_file.name} uses undeclared arguments {sorted(undeclared)}'


def test_included_launch_files_get_declared_arguments(launch_file, launch_files):
    for call in launch_file.calls('IncludeLaunchDescription'):
        source = call.args[0] if call.args else keyword(call, 'launch_description_source')
        assert call_name(source) == 'PythonLaunchDescriptionSource'
        targets = {v[len(SHARE) + 1:] for v in launch_file.values(source.args[0])}
        assert len(targets) == 1 and next(iter(targets)).startswith('launch/'), targets
        included = launch_files[next(iter(targets)).removeprefix('launch/')]
        forwarded = launch_file.resolve(keyword(call, 'launch_arguments'))
        # {...}.items() or a list of pairs
        if isinstance(forwarded, ast.Call) and isinstance(forwarded.func, ast.Attribute):
            forwarded = forwarded.func.value
        if isinstance(forwarded, ast.Dict):
            names = [launch_file.constant(k) for k in forwarded.keys]
        else:
            names = [launch_file.constant(pair.elts[0]) for pair in forwarded.elts]
        unknown = set(names) - set(included.arguments)
        assert not unknown, f'{launch_file.name} passes {sorted(unknown)} to {included.name}, ' \
                            'which does not declare them'
        required = {a.name for a in included.arguments.values() if a.default is None}
        assert required <= set(names), f'{included.name} needs {sorted(required - set(names))}'


def test_started_executables_are_installed(launch_file):
    programs = installed_programs()
    nodes = list(launch_file.node_actions())
    assert nodes, f'{launch_file.name} starts no node'
    for call in nodes:
        if launch_file.constant(keyword(call, 'package')) != PACKAGE:
            continue
        executable = launch_file.constant(keyword(call, 'executable'))
        script = REPO / 'scripts' / executable
        assert script.is_file() and script.stat().st_mode & 0o111, f'{script} not executable'
        assert executable in programs, \
            f'CMakeLists.txt does not install scripts/{executable} to lib/${{PROJECT_NAME}}'


def test_referenced_share_files_exist_and_are_installed(launch_files):
    shipped = installed_share_dirs()
    referenced = set()
    for launch_file in launch_files.values():
        referenced |= launch_file.share_files()
    for relative in sorted(referenced):
        assert (REPO / relative).is_file(), f'launch files reference missing {relative}'
        assert relative.split('/')[0] in shipped, f'{relative} is not installed to share/'
    assert referenced >= REQUIRED_SHARE_FILES, \
        f'not referenced: {sorted(REQUIRED_SHARE_FILES - referenced)}'


def test_mode_choices_are_the_parameter_files(launch_files):
    stems = sorted(p.name.removesuffix('.yaml') for p in (REPO / 'config').glob('*.yaml'))
    modes = {name: f.arguments['mode'].choices for name, f in launch_files.items()
             if 'mode' in f.arguments}
    assert 'movenet.launch.py' in modes
    for name, choices in modes.items():
        assert sorted(choices) == stems, f'{name}: mode choices {choices} != config {stems}'
    movenet = launch_files['movenet.launch.py']
    params_files = movenet.values(movenet.arguments['params_file'].default)
    assert sorted(params_files) == sorted(f'{SHARE}/config/{s}.yaml' for s in stems)


def test_parameter_files_are_wildcard_keyed():
    for path in sorted((REPO / 'config').glob('*.yaml')):
        data = yaml.safe_load(path.read_text())
        assert list(data) == ['/**'], f'{path.name}: parameters must be keyed /**'
        assert 'model' in data['/**']['ros__parameters'], path.name


def test_no_eval_or_downloads(launch_file):
    banned_calls = {'eval', 'exec', 'PythonExpression', 'urlopen', 'system'}
    assert not [n for n in ast.walk(launch_file.tree) if call_name(n) in banned_calls]
    for node in ast.walk(launch_file.tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [node.module] if isinstance(node, ast.ImportFrom) else \
                [a.name for a in node.names]
            for module in modules:
                assert module.split('.')[0] in {'launch', 'launch_ros', 'os', 'pathlib'}, \
                    f'{launch_file.name} imports {module}'


def test_rviz_config_shows_the_node_outputs():
    config = yaml.safe_load((REPO / 'config' / 'movenet.rviz').read_text())
    manager = config['Visualization Manager']
    assert manager['Global Options']['Fixed Frame'] == 'camera_optical_frame'
    displays = {d['Class']: d for d in manager['Displays']}
    assert displays['rviz_default_plugins/Image']['Topic']['Value'] == '/image_annotated'
    assert displays['rviz_default_plugins/MarkerArray']['Topic']['Value'] == '/pose_markers'
    assert displays['rviz_default_plugins/MarkerArray']['Namespaces'] == \
        {'bones': True, 'ids': True, 'keypoints': True}
    assert displays['rviz_default_plugins/PoseArray']['Topic']['Value'] == '/people'
    assert 'rviz_default_plugins/Grid' in displays
    view = manager['Views']['Current']
    # Looking along +z of the optical frame: from below the focal point, pitch about -90 deg.
    assert view['Class'] == 'rviz_default_plugins/Orbit'
    assert view['Pitch'] < -1.5 and view['Focal Point']['Z'] > 0


def load_launch_description(name: str):
    spec = importlib.util.spec_from_file_location(name.replace('.', '_'),
                                                  REPO / 'launch' / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.generate_launch_description()


@pytest.mark.parametrize('name', LAUNCH_FILES)
def test_launch_descriptions_build_with_launch_ros(name):
    """Where launch_ros is installed: the files import and build real descriptions."""
    pytest.importorskip('launch_ros')
    from launch.actions import DeclareLaunchArgument
    from launch.launch_context import LaunchContext
    from launch_ros.actions import Node

    description = load_launch_description(name)
    arguments = [e for e in description.entities if isinstance(e, DeclareLaunchArgument)]
    assert {a.name for a in arguments} == set(LaunchFile(name).arguments)
    for argument in arguments:
        assert argument.description.strip()
    nodes = [e for e in description.entities if isinstance(e, Node)]
    assert nodes
    for node in nodes:
        if node.condition is None:
            continue
        # Only RViz is optional: skipped with rviz:=false, started with rviz:=true.
        assert node.node_package == 'rviz2' and node.node_executable == 'rviz2'
        context = LaunchContext()
        context.launch_configurations['rviz'] = 'false'
        assert not node.condition.evaluate(context)
        context.launch_configurations['rviz'] = 'true'
        assert node.condition.evaluate(context)


LAUNCH = """
import sys
import launch
from launch.launch_description_sources import AnyLaunchDescriptionSource
path, *rest = sys.argv[1:]
arguments = [tuple(a.split(':=', 1)) for a in rest]
service = launch.LaunchService()
service.include_launch_description(launch.LaunchDescription([
    launch.actions.IncludeLaunchDescription(AnyLaunchDescriptionSource(path),
                                            launch_arguments=arguments)]))
sys.exit(service.run())
"""


@pytest.mark.parametrize('autostart,state', [('false', 'unconfigured'), ('true', 'active')])
def test_the_launch_file_starts_a_lifecycle_node(ros_node, autostart, state):
    """Where launch_ros is installed: movenet.launch.py, launched for real, brings the node
    up unconfigured or active as ``autostart`` says; the launch ends cleanly on SIGINT."""
    pytest.importorskip('launch_ros')
    import signal
    import subprocess
    import sys

    from lifecycle_msgs.srv import GetState
    from ros_helpers import spin_until

    node, executor = ros_node
    launch = subprocess.Popen([sys.executable, '-c', LAUNCH, str(REPO / 'launch' /
                                                               'movenet.launch.py'),
                               f'autostart:={autostart}', 'node_name:=launched'],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        client = node.create_client(GetState, '/launched/get_state')
        assert spin_until(node, executor, client.service_is_ready, 30.0)

        def current() -> str:
            future = client.call_async(GetState.Request())
            assert spin_until(node, executor, future.done, 10.0)
            return future.result().current_state.label

        assert spin_until(node, executor, lambda: current() == state, 20.0), current()
    finally:
        launch.send_signal(signal.SIGINT)
        out, _ = launch.communicate(timeout=30)
    assert launch.returncode == 0, out
    assert 'Traceback' not in out, out


def test_the_launch_file_wires_an_aligned_depth_camera(ros_node):
    """Where launch_ros is installed: depth_image / depth_camera_info remap the node's depth
    inputs (which turns depth on) and it publishes people, as for a RealSense."""
    pytest.importorskip('launch_ros')
    import signal
    import subprocess
    import sys

    from ros_helpers import spin_until

    node, executor = ros_node
    depth_image = '/cam/aligned_depth_to_color/image_raw'
    depth_info = '/cam/aligned_depth_to_color/camera_info'
    launch = subprocess.Popen([sys.executable, '-c', LAUNCH, str(REPO / 'launch' /
                                                               'movenet.launch.py'),
                               'node_name:=launched_rgbd', f'depth_image:={depth_image}',
                               f'depth_camera_info:={depth_info}'],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        def wired() -> bool:
            return (node.count_subscribers(depth_image) == 1
                    and node.count_subscribers(depth_info) == 1
                    and node.count_publishers('/people') == 1)

        assert spin_until(node, executor, wired, 40.0)
        assert node.count_subscribers('/depth/image') == 0
    finally:
        launch.send_signal(signal.SIGINT)
        out, _ = launch.communicate(timeout=30)
    assert launch.returncode == 0, out
    assert f'depth on "{depth_image}"' in out, out
